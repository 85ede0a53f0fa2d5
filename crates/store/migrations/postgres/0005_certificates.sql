-- TLS certificates: CA accounts per tenant, products, subscriptions (the paid term), the
-- certificates with their orders and validations, the CA operations log, installations and
-- their health checks. Instants are BIGINT milliseconds (UTC); JSON is TEXT. Private keys,
-- ACME account keys, EAB HMAC keys and installer secrets are only ever stored sealed.

CREATE TABLE ca_accounts (
    id                 TEXT PRIMARY KEY,
    tenant_id          TEXT NOT NULL REFERENCES tenants(id),
    name               TEXT NOT NULL,
    directory_url      TEXT NOT NULL,
    -- Issuer domains for CAA (RFC 8659), JSON array.
    caa_identities     TEXT NOT NULL DEFAULT '[]',
    contact_email      TEXT,
    eab_key_id         TEXT,
    -- The External Account Binding HMAC key, sealed and bound to the row.
    eab_hmac_sealed    TEXT,
    -- The ACME account (key and URL) once registered, sealed and bound to the row.
    account_url        TEXT,
    credentials_sealed TEXT,
    status             TEXT NOT NULL CHECK (status IN ('unregistered', 'registered', 'failed')),
    last_error         TEXT,
    is_default         BOOLEAN NOT NULL DEFAULT FALSE,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    deleted_at         BIGINT
);
CREATE UNIQUE INDEX ca_accounts_name ON ca_accounts (tenant_id, name) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX ca_accounts_default ON ca_accounts (tenant_id) WHERE is_default AND deleted_at IS NULL;

CREATE TABLE certificate_products (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id),
    name             TEXT NOT NULL,
    kind             TEXT NOT NULL CHECK (kind IN ('dv_single', 'dv_multi', 'dv_wildcard', 'ov', 'ev')),
    max_names        BIGINT NOT NULL CHECK (max_names BETWEEN 1 AND 100),
    ca_account_id    TEXT REFERENCES ca_accounts(id),
    key_type         TEXT NOT NULL,
    profile          TEXT,
    term_months      BIGINT NOT NULL CHECK (term_months BETWEEN 1 AND 120),
    currency         TEXT NOT NULL,
    price            BIGINT NOT NULL CHECK (price >= 0),
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    deleted_at       BIGINT
);
CREATE UNIQUE INDEX certificate_products_name ON certificate_products (tenant_id, name) WHERE deleted_at IS NULL;

-- One paid term (or an unbilled one) covering every issuance, reissue and renewal in it.
CREATE TABLE certificate_subscriptions (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    client_id     TEXT NOT NULL REFERENCES clients(id),
    product_id    TEXT REFERENCES certificate_products(id),
    names         TEXT NOT NULL,
    term_months   BIGINT NOT NULL,
    currency      TEXT NOT NULL,
    price         BIGINT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('awaiting_payment', 'active', 'expired', 'cancelled')),
    term_start    BIGINT NOT NULL,
    term_end      BIGINT NOT NULL,
    invoice_id    TEXT REFERENCES invoices(id),
    auto_renew    BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX certificate_subscriptions_by_client ON certificate_subscriptions (tenant_id, client_id, created_at DESC);

CREATE TABLE certificates (
    id                 TEXT PRIMARY KEY,
    tenant_id          TEXT NOT NULL REFERENCES tenants(id),
    client_id          TEXT NOT NULL REFERENCES clients(id),
    subscription_id    TEXT NOT NULL REFERENCES certificate_subscriptions(id),
    ca_account_id      TEXT NOT NULL REFERENCES ca_accounts(id),
    -- Canonical names (JSON array) and their fingerprint: the order de-duplication key.
    names              TEXT NOT NULL,
    names_key          TEXT NOT NULL,
    common_name        TEXT NOT NULL,
    key_type           TEXT NOT NULL,
    validation_method  TEXT NOT NULL CHECK (validation_method IN ('http-01', 'dns-01')),
    dns_mode           TEXT CHECK (dns_mode IN ('auto', 'hosted', 'manual')),
    validation_level   TEXT NOT NULL DEFAULT 'dv' CHECK (validation_level IN ('dv', 'ov', 'ev')),
    profile            TEXT,
    webroot            TEXT,
    status             TEXT NOT NULL CHECK (status IN ('awaiting_payment', 'pending', 'validating', 'awaiting_validation', 'awaiting_organization_validation', 'issuing', 'issued', 'failed', 'revoking', 'revoked', 'replaced', 'expired')),
    status_detail      TEXT,
    failure_kind       TEXT,
    -- Runs of the issuance job that failed (the job gives up after the configured number).
    attempts           BIGINT NOT NULL DEFAULT 0,
    run_seq            BIGINT NOT NULL DEFAULT 0,
    order_url          TEXT,
    order_status       TEXT,
    -- The certificate's private key (PKCS#8 PEM), sealed with the master key, bound to the row.
    private_key_sealed TEXT,
    serial             TEXT,
    issuer             TEXT,
    subject            TEXT,
    sans               TEXT,
    fingerprint        TEXT,
    ari_id             TEXT,
    not_before         BIGINT,
    not_after          BIGINT,
    chain_pem          TEXT,
    issued_at          BIGINT,
    auto_renew         BOOLEAN NOT NULL DEFAULT TRUE,
    renew_at           BIGINT,
    renewal_basis      TEXT,
    ari_start          BIGINT,
    ari_end            BIGINT,
    ari_next_check     BIGINT,
    renewal_failures   BIGINT NOT NULL DEFAULT 0,
    replaces_id        TEXT REFERENCES certificates(id),
    replaces_serial    TEXT,
    replaced_by_id     TEXT,
    replaced_at        BIGINT,
    revocation_reason  TEXT,
    revoked_at         BIGINT,
    manual_deadline    BIGINT,
    search_text        TEXT NOT NULL,
    created_by         TEXT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE INDEX certificates_by_tenant ON certificates (tenant_id, created_at DESC, id DESC);
CREATE INDEX certificates_by_client ON certificates (tenant_id, client_id, created_at DESC, id DESC);
CREATE INDEX certificates_by_status ON certificates (tenant_id, status, created_at DESC, id DESC);
CREATE INDEX certificates_renew_due ON certificates (renew_at) WHERE status = 'issued';
CREATE INDEX certificates_by_names ON certificates (tenant_id, names_key);
-- One order in progress per tenant and name set: a second request for the same names is refused.
CREATE UNIQUE INDEX certificates_one_open_order ON certificates (tenant_id, names_key)
    WHERE status IN ('awaiting_payment', 'pending', 'validating', 'awaiting_validation', 'awaiting_organization_validation', 'issuing');

-- The validation of one identifier of an order: what to publish, where, and how it went.
CREATE TABLE certificate_validations (
    id                TEXT PRIMARY KEY,
    tenant_id         TEXT NOT NULL,
    certificate_id    TEXT NOT NULL REFERENCES certificates(id),
    identifier        TEXT NOT NULL,
    method            TEXT NOT NULL CHECK (method IN ('http-01', 'dns-01')),
    -- DNS-01: `hosted` (a zone Panel1 serves, possibly through a CNAME delegation),
    -- `provider` (an external DNS provider) or `manual` (the client creates the record).
    dns_mode          TEXT,
    record_name       TEXT,
    record_value      TEXT,
    -- Where the TXT record really lives when `_acme-challenge` is a CNAME.
    effective_name    TEXT,
    http_token        TEXT,
    key_authorization TEXT,
    authorization_url TEXT,
    challenge_url     TEXT,
    status            TEXT NOT NULL CHECK (status IN ('pending', 'published', 'ready', 'valid', 'invalid')),
    last_error        TEXT,
    attempts          BIGINT NOT NULL DEFAULT 0,
    checked_at        BIGINT,
    created_at        BIGINT NOT NULL,
    updated_at        BIGINT NOT NULL,
    UNIQUE (certificate_id, identifier)
);
CREATE INDEX certificate_validations_by_token ON certificate_validations (http_token) WHERE http_token IS NOT NULL;

-- Every HTTP call made to a CA for a certificate (no bodies, no secrets).
CREATE TABLE certificate_operations (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL,
    certificate_id TEXT REFERENCES certificates(id),
    ca_account_id  TEXT,
    step           TEXT NOT NULL,
    method         TEXT NOT NULL,
    url            TEXT NOT NULL,
    status         BIGINT,
    duration_ms    BIGINT NOT NULL,
    problem        TEXT,
    retry_after    BIGINT,
    job_id         TEXT,
    created_at     BIGINT NOT NULL
);
CREATE INDEX certificate_operations_by_certificate ON certificate_operations (tenant_id, certificate_id, created_at, id);

CREATE TABLE certificate_installations (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL REFERENCES tenants(id),
    client_id        TEXT NOT NULL REFERENCES clients(id),
    -- The certificate it serves now (moved to the replacement on renewal).
    certificate_id   TEXT NOT NULL REFERENCES certificates(id),
    kind             TEXT NOT NULL CHECK (kind IN ('files', 'webhook')),
    -- Settings without secrets (paths, reload command, URL, probe target), JSON.
    config           TEXT NOT NULL,
    -- Secrets of the installer (the webhook signing secret), sealed and bound to the row.
    secret_sealed    TEXT,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'installing', 'installed', 'failed')),
    last_result      TEXT,
    last_error       TEXT,
    installed_serial TEXT,
    served_serial    TEXT,
    days_left        BIGINT,
    hostname_matches BOOLEAN,
    trusted          BOOLEAN,
    healthy          BOOLEAN,
    installed_at     BIGINT,
    checked_at       BIGINT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL,
    deleted_at       BIGINT
);
CREATE INDEX certificate_installations_by_certificate ON certificate_installations (tenant_id, certificate_id);
CREATE INDEX certificate_installations_live ON certificate_installations (status) WHERE deleted_at IS NULL;

-- What a probe of an installed endpoint saw.
CREATE TABLE certificate_health_checks (
    id               TEXT PRIMARY KEY,
    tenant_id        TEXT NOT NULL,
    installation_id  TEXT NOT NULL REFERENCES certificate_installations(id),
    certificate_id   TEXT NOT NULL,
    expected_serial  TEXT,
    served_serial    TEXT,
    days_left        BIGINT,
    hostname_matches BOOLEAN,
    trusted          BOOLEAN,
    chain_length     BIGINT,
    healthy          BOOLEAN NOT NULL,
    problems         TEXT NOT NULL DEFAULT '[]',
    checked_at       BIGINT NOT NULL
);
CREATE INDEX certificate_health_by_installation ON certificate_health_checks (tenant_id, installation_id, checked_at DESC);
