-- Domains: a tenant's registrar accounts and which TLD goes to which, reusable WHOIS
-- contacts, the domains themselves (Panel1's state next to the registry's statuses), and the
-- domain operations log (one row per requested registrar operation, one per registrar call).
-- Instants are BIGINT milliseconds (UTC); JSON is TEXT.

CREATE TABLE registrar_accounts (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    name          TEXT NOT NULL,
    adapter       TEXT NOT NULL CHECK (adapter IN ('sandbox', 'namecheap', 'epp')),
    -- The settings without credentials, as the API shows them.
    settings      TEXT NOT NULL,
    -- The whole settings (credentials included), sealed with the master key and bound to the row.
    config_sealed TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    deleted_at    BIGINT
);
CREATE UNIQUE INDEX registrar_accounts_name ON registrar_accounts (tenant_id, name) WHERE deleted_at IS NULL;

-- Which registrar account registers a TLD (a public suffix such as `com` or `co.uk`).
CREATE TABLE registrar_tlds (
    tenant_id  TEXT NOT NULL REFERENCES tenants(id),
    tld        TEXT NOT NULL,
    account_id TEXT NOT NULL REFERENCES registrar_accounts(id),
    created_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, tld)
);

CREATE TABLE contacts (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    client_id   TEXT NOT NULL REFERENCES clients(id),
    -- The validated contact (panel1_core::contact::ContactData as JSON).
    data        TEXT NOT NULL,
    search_text TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    deleted_at  BIGINT
);
CREATE INDEX contacts_by_tenant ON contacts (tenant_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;
CREATE INDEX contacts_by_client ON contacts (tenant_id, client_id, created_at DESC, id DESC) WHERE deleted_at IS NULL;

CREATE TABLE domains (
    id                    TEXT PRIMARY KEY,
    tenant_id             TEXT NOT NULL REFERENCES tenants(id),
    client_id             TEXT NOT NULL REFERENCES clients(id),
    -- A-label form (what the registry sees) and the Unicode form for people.
    name                  TEXT NOT NULL,
    name_unicode          TEXT NOT NULL,
    -- The public suffix the name is registered under (`com`, `co.uk`), A-label form.
    tld                   TEXT NOT NULL,
    registrar_account_id  TEXT NOT NULL REFERENCES registrar_accounts(id),
    state                 TEXT NOT NULL CHECK (state IN ('pending_registration', 'active', 'expired', 'auto_renew_grace', 'redemption', 'pending_delete', 'pending_transfer_in', 'transferred_away', 'suspended', 'cancelled')),
    -- RFC 5731 / RFC 3915 statuses as the registrar last reported them (JSON arrays).
    epp_statuses          TEXT NOT NULL DEFAULT '[]',
    rgp_statuses          TEXT NOT NULL DEFAULT '[]',
    registry_id           TEXT,
    registered_at         BIGINT,
    expires_at            BIGINT,
    nameservers           TEXT NOT NULL DEFAULT '[]',
    locked                BOOLEAN NOT NULL DEFAULT FALSE,
    privacy               BOOLEAN NOT NULL DEFAULT FALSE,
    auto_renew            BOOLEAN NOT NULL DEFAULT TRUE,
    registrant_contact_id TEXT REFERENCES contacts(id),
    admin_contact_id      TEXT REFERENCES contacts(id),
    tech_contact_id       TEXT REFERENCES contacts(id),
    billing_contact_id    TEXT REFERENCES contacts(id),
    suspension_reason     TEXT,
    synced_at             BIGINT,
    search_text           TEXT NOT NULL,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);
-- One record per name and tenant; ordering a cancelled name again reuses it.
CREATE UNIQUE INDEX domains_name ON domains (tenant_id, name);
CREATE INDEX domains_by_tenant ON domains (tenant_id, created_at DESC, id DESC);
CREATE INDEX domains_by_client ON domains (tenant_id, client_id, created_at DESC, id DESC);
CREATE INDEX domains_by_state ON domains (tenant_id, state, created_at DESC, id DESC);
CREATE INDEX domains_by_expiry ON domains (tenant_id, expires_at);
CREATE INDEX domains_expiring ON domains (expires_at) WHERE expires_at IS NOT NULL;

-- One requested registrar operation. `idempotency_key` is derived from (domain, operation,
-- term); it is also the registrar's idempotency key and the job's unique key, so one request
-- is performed at most once whatever crashes or retries.
CREATE TABLE domain_operations (
    id                   TEXT PRIMARY KEY,
    tenant_id            TEXT NOT NULL REFERENCES tenants(id),
    domain_id            TEXT NOT NULL REFERENCES domains(id),
    client_id            TEXT NOT NULL,
    operation            TEXT NOT NULL,
    term                 TEXT NOT NULL,
    years                BIGINT,
    idempotency_key      TEXT NOT NULL,
    registrar_account_id TEXT NOT NULL,
    -- `awaiting_payment`: kept for paid operations that wait for their invoice.
    status               TEXT NOT NULL CHECK (status IN ('queued', 'awaiting_payment', 'running', 'waiting', 'succeeded', 'failed')),
    params               TEXT NOT NULL DEFAULT '{}',
    -- A secret the job needs (a transfer's auth code), sealed; cleared when the operation ends.
    secret_sealed        TEXT,
    result               TEXT,
    outcome              TEXT,
    error                TEXT,
    failure_kind         TEXT,
    attempts             BIGINT NOT NULL DEFAULT 0,
    -- A call may have reached the registrar without its answer being recorded: ask before acting.
    uncertain            BOOLEAN NOT NULL DEFAULT FALSE,
    -- The expiry Panel1 knew before the call (what a renewal starts from).
    expiry_before        BIGINT,
    job_id               TEXT,
    -- Fence: at most one registrar call in flight per operation.
    call_token           TEXT,
    call_until           BIGINT,
    requested_by         TEXT,
    request_id           TEXT,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    finished_at          BIGINT
);
CREATE UNIQUE INDEX domain_operations_key ON domain_operations (tenant_id, idempotency_key);
CREATE INDEX domain_operations_by_domain ON domain_operations (tenant_id, domain_id, created_at DESC, id DESC);
CREATE INDEX domain_operations_open ON domain_operations (status) WHERE status IN ('queued', 'awaiting_payment', 'running', 'waiting');

-- Every registrar call made for an operation: what was sent and received (secrets redacted),
-- the outcome, how long it took. `started` until the answer is recorded.
CREATE TABLE domain_operation_calls (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL,
    operation_id  TEXT NOT NULL REFERENCES domain_operations(id),
    attempt       BIGINT NOT NULL,
    command       TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    error         TEXT,
    transcript    TEXT,
    expiry_before BIGINT,
    duration_ms   BIGINT,
    job_id        TEXT,
    started_at    BIGINT NOT NULL,
    finished_at   BIGINT
);
CREATE INDEX domain_operation_calls_by_operation ON domain_operation_calls (operation_id, started_at, id);
