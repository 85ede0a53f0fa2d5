-- Billing: TLD prices, invoices with lines, client credit with a ledger; e-mail templates and
-- the record of every e-mail.

CREATE TABLE tld_prices (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id),
    tld        TEXT NOT NULL,
    operation  TEXT NOT NULL CHECK (operation IN ('register', 'renew', 'transfer', 'restore')),
    years      BIGINT NOT NULL CHECK (years BETWEEN 1 AND 10),
    currency   TEXT NOT NULL,
    price      BIGINT NOT NULL CHECK (price >= 0),
    cost       BIGINT CHECK (cost >= 0),
    markup     TEXT,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, tld, operation, years, currency)
);

CREATE TABLE invoices (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenants(id),
    client_id  TEXT NOT NULL REFERENCES clients(id),
    number     TEXT NOT NULL,
    currency   TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('draft', 'unpaid', 'paid', 'void')),
    subtotal   BIGINT NOT NULL,
    total      BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    due_at     BIGINT NOT NULL,
    paid_at    BIGINT,
    voided_at  BIGINT,
    updated_at BIGINT NOT NULL,
    UNIQUE (tenant_id, number)
);
CREATE INDEX invoices_by_tenant ON invoices (tenant_id, created_at DESC, id DESC);
CREATE INDEX invoices_by_client ON invoices (tenant_id, client_id, created_at DESC);

CREATE TABLE invoice_lines (
    invoice_id  TEXT NOT NULL REFERENCES invoices(id),
    line_no     BIGINT NOT NULL,
    description TEXT NOT NULL,
    quantity    BIGINT NOT NULL,
    unit_price  BIGINT NOT NULL,
    amount      BIGINT NOT NULL,
    object_type TEXT,
    object_id   TEXT,
    operation   TEXT,
    term_years  BIGINT,
    -- (object, operation, term): what is charged at most once. Cleared when the invoice is voided.
    billing_key TEXT UNIQUE,
    PRIMARY KEY (invoice_id, line_no)
);
CREATE INDEX invoice_lines_by_object ON invoice_lines (object_type, object_id);

CREATE TABLE client_balances (
    tenant_id  TEXT NOT NULL,
    client_id  TEXT NOT NULL REFERENCES clients(id),
    currency   TEXT NOT NULL,
    balance    BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, client_id, currency)
);

CREATE TABLE credit_ledger (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    client_id     TEXT NOT NULL REFERENCES clients(id),
    currency      TEXT NOT NULL,
    amount        BIGINT NOT NULL,
    balance_after BIGINT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('credit', 'invoice_payment', 'refund', 'adjustment')),
    invoice_id    TEXT REFERENCES invoices(id),
    note          TEXT,
    actor         TEXT,
    created_at    BIGINT NOT NULL
);
-- An invoice is paid from credit at most once, whatever retries or races happen.
CREATE UNIQUE INDEX credit_one_payment_per_invoice ON credit_ledger (invoice_id) WHERE kind = 'invoice_payment';
CREATE INDEX credit_by_client ON credit_ledger (tenant_id, client_id, created_at DESC);

CREATE TABLE email_templates (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id),
    key        TEXT NOT NULL,
    subject    TEXT NOT NULL,
    body       TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, key)
);

CREATE TABLE emails (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    to_address  TEXT NOT NULL,
    template    TEXT NOT NULL,
    object_type TEXT,
    object_id   TEXT,
    subject     TEXT NOT NULL,
    body        TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('queued', 'sent', 'failed', 'logged')),
    attempts    BIGINT NOT NULL DEFAULT 0,
    last_error  TEXT,
    dedupe_key  TEXT UNIQUE,
    created_at  BIGINT NOT NULL,
    sent_at     BIGINT
);
CREATE INDEX emails_by_tenant ON emails (tenant_id, created_at DESC, id DESC);
CREATE INDEX emails_by_object ON emails (tenant_id, object_type, object_id);
