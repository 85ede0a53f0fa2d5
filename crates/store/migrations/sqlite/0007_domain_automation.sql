-- Domain billing and automation: per-tenant domain settings (currency, work on credit,
-- renewal buffer and alert, premium markup) and per-TLD renewal buffers; which invoice pays
-- each domain operation; the reminders and alerts already sent per domain and term; drift
-- found by the registrar sync; the sync's state per registrar account.

CREATE TABLE domain_settings (
    tenant_id           TEXT PRIMARY KEY REFERENCES tenants(id),
    -- The currency domain work is invoiced in (a price must exist in it).
    currency            TEXT NOT NULL DEFAULT 'USD',
    -- Registrar work starts before its invoice is paid (the client is trusted with credit).
    work_on_credit      BOOLEAN NOT NULL DEFAULT FALSE,
    -- Auto-renewals start this many days before expiry.
    renewal_buffer_days BIGINT NOT NULL DEFAULT 30 CHECK (renewal_buffer_days BETWEEN 1 AND 365),
    -- A renewal not done this many days before expiry raises `domain.renewal.failed`.
    renewal_alert_days  BIGINT NOT NULL DEFAULT 7 CHECK (renewal_alert_days BETWEEN 0 AND 365),
    -- Where alerts for the tenant go; unset: the tenant's administrators.
    notify_email        TEXT,
    -- The markup for premium names when the TLD's price has no markup rule (JSON).
    premium_markup      TEXT,
    updated_at          BIGINT NOT NULL
);

-- A longer (or shorter) renewal buffer for a TLD, e.g. registries that delete at expiry.
CREATE TABLE domain_tld_settings (
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    tld                 TEXT NOT NULL,
    renewal_buffer_days BIGINT NOT NULL CHECK (renewal_buffer_days BETWEEN 1 AND 365),
    updated_at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, tld)
);

-- The invoice that pays for an operation (register, renew, transfer, restore).
ALTER TABLE domain_operations ADD COLUMN invoice_id TEXT;
CREATE INDEX domain_operations_by_invoice ON domain_operations (invoice_id) WHERE invoice_id IS NOT NULL;

-- Reminders and alerts, at most one per domain, term (the expiry it is about) and stage
-- (`reminder_30`, `reminder_7`, `renewal_alert`, `expired`).
CREATE TABLE domain_notices (
    domain_id  TEXT NOT NULL REFERENCES domains(id),
    term       BIGINT NOT NULL,
    stage      TEXT NOT NULL,
    tenant_id  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- When the notice was sent (its e-mail recorded and its event appended).
    done_at    BIGINT,
    PRIMARY KEY (domain_id, term, stage)
);

-- A difference between Panel1 and the registrar, found by the sync, and what was done.
CREATE TABLE domain_drift (
    id                   TEXT PRIMARY KEY,
    tenant_id            TEXT NOT NULL,
    domain_id            TEXT NOT NULL REFERENCES domains(id),
    registrar_account_id TEXT NOT NULL,
    field                TEXT NOT NULL,
    panel1_value         TEXT,
    registrar_value      TEXT,
    action               TEXT NOT NULL,
    detected_at          BIGINT NOT NULL
);
CREATE INDEX domain_drift_by_tenant ON domain_drift (tenant_id, detected_at DESC, id DESC);
CREATE INDEX domain_drift_by_domain ON domain_drift (tenant_id, domain_id, detected_at DESC, id DESC);

-- The registrar sync per account: its rate limit and its last run.
CREATE TABLE registrar_sync (
    account_id      TEXT PRIMARY KEY REFERENCES registrar_accounts(id),
    tenant_id       TEXT NOT NULL,
    -- Registrar calls per minute; NULL: the installation's `registrar_sync_rate_per_minute`.
    rate_per_minute BIGINT CHECK (rate_per_minute > 0),
    last_run_at     BIGINT,
    last_checked    BIGINT NOT NULL DEFAULT 0,
    last_drift      BIGINT NOT NULL DEFAULT 0,
    last_failures   BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT,
    updated_at      BIGINT NOT NULL
);

-- The renewal sweep reads domains by expiry; the sync reads each account's least recently
-- synced domains first.
CREATE INDEX domains_due ON domains (expires_at, id) WHERE expires_at IS NOT NULL;
CREATE INDEX domains_sync ON domains (registrar_account_id, synced_at, id);

-- A refund of an invoice's payment is made at most once.
CREATE UNIQUE INDEX credit_one_refund_per_invoice ON credit_ledger (invoice_id) WHERE kind = 'refund';
