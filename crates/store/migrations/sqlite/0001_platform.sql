-- Panel1 platform: tenants, people, tokens, audit, outbox, jobs, schedules, webhooks.
-- Instants are BIGINT milliseconds since the Unix epoch (UTC); JSON is TEXT.

CREATE TABLE tenants (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    slug        TEXT NOT NULL UNIQUE,
    settings    TEXT NOT NULL DEFAULT '{}',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE clients (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL REFERENCES tenants(id),
    name        TEXT NOT NULL,
    company     TEXT,
    email       TEXT NOT NULL,
    phone       TEXT,
    address1    TEXT,
    address2    TEXT,
    city        TEXT,
    state       TEXT,
    postal_code TEXT,
    country     TEXT,
    status      TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'closed')),
    notes       TEXT,
    search_text TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX clients_by_tenant ON clients (tenant_id, created_at DESC, id DESC);
CREATE INDEX clients_by_email ON clients (tenant_id, email);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    email         TEXT NOT NULL,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL CHECK (role IN ('operator', 'admin', 'staff', 'client')),
    client_id     TEXT REFERENCES clients(id),
    password_hash TEXT,
    failed_logins BIGINT NOT NULL DEFAULT 0,
    locked_until  BIGINT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    deleted_at    BIGINT,
    CHECK ((role = 'client') = (client_id IS NOT NULL))
);
CREATE UNIQUE INDEX users_email_per_tenant ON users (tenant_id, email) WHERE deleted_at IS NULL;
CREATE INDEX users_by_tenant ON users (tenant_id, created_at DESC, id DESC);

CREATE TABLE api_tokens (
    id           TEXT PRIMARY KEY,
    tenant_id    TEXT NOT NULL REFERENCES tenants(id),
    user_id      TEXT NOT NULL REFERENCES users(id),
    name         TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    expires_at   BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX api_tokens_by_user ON api_tokens (tenant_id, user_id);

-- Exact per-tenant counts for unfiltered listings, kept in the same transaction as the rows.
CREATE TABLE counters (
    tenant_id TEXT NOT NULL,
    name      TEXT NOT NULL,
    value     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, name)
);

CREATE TABLE audit_log (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    at          BIGINT NOT NULL,
    actor_kind  TEXT NOT NULL,
    actor_id    TEXT,
    token_id    TEXT,
    action      TEXT NOT NULL,
    object_type TEXT NOT NULL,
    object_id   TEXT NOT NULL,
    summary     TEXT NOT NULL,
    before      TEXT,
    after       TEXT,
    request_id  TEXT
);
CREATE INDEX audit_by_object ON audit_log (tenant_id, object_type, object_id, at DESC);
CREATE INDEX audit_by_tenant ON audit_log (tenant_id, at DESC, id DESC);

CREATE TABLE events (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    id            TEXT NOT NULL UNIQUE,
    tenant_id     TEXT NOT NULL,
    kind          TEXT NOT NULL,
    object_type   TEXT NOT NULL,
    object_id     TEXT NOT NULL,
    payload       TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    dispatched_at BIGINT
);
CREATE INDEX events_undispatched ON events (seq) WHERE dispatched_at IS NULL;
CREATE INDEX events_by_object ON events (tenant_id, object_type, object_id, seq);

CREATE TABLE jobs (
    seq            INTEGER PRIMARY KEY AUTOINCREMENT,
    id             TEXT NOT NULL UNIQUE,
    tenant_id      TEXT,
    kind           TEXT NOT NULL,
    queue          TEXT NOT NULL,
    priority       BIGINT NOT NULL DEFAULT 0,
    payload        TEXT NOT NULL,
    unique_key     TEXT UNIQUE,
    ordering_key   TEXT,
    status         TEXT NOT NULL CHECK (status IN ('ready', 'running', 'done', 'dead', 'cancelled')),
    attempts       BIGINT NOT NULL DEFAULT 0,
    max_attempts   BIGINT NOT NULL,
    run_at         BIGINT NOT NULL,
    lease_token    TEXT,
    locked_by      TEXT,
    locked_until   BIGINT,
    last_error     TEXT,
    result         TEXT,
    schedule_name  TEXT,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL,
    finished_at    BIGINT
);
CREATE INDEX jobs_ready ON jobs (queue, priority DESC, run_at, seq) WHERE status = 'ready';
CREATE INDEX jobs_running ON jobs (locked_until) WHERE status = 'running';
CREATE INDEX jobs_ordering ON jobs (ordering_key, seq) WHERE ordering_key IS NOT NULL AND status IN ('ready', 'running');
CREATE INDEX jobs_by_tenant ON jobs (tenant_id, seq DESC);
CREATE INDEX jobs_by_status ON jobs (status, seq DESC);
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE status IN ('done', 'cancelled');

CREATE TABLE schedules (
    name                 TEXT PRIMARY KEY,
    cron                 TEXT NOT NULL,
    job_kind             TEXT NOT NULL,
    payload              TEXT NOT NULL DEFAULT '{}',
    enabled              BOOLEAN NOT NULL DEFAULT TRUE,
    next_run_at          BIGINT NOT NULL,
    last_fired_at        BIGINT,
    last_job_id          TEXT,
    last_finished_at     BIGINT,
    last_status          TEXT,
    last_items           BIGINT,
    last_failures        BIGINT,
    last_error           TEXT,
    runs                 BIGINT NOT NULL DEFAULT 0,
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL
);

CREATE TABLE webhooks (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    url           TEXT NOT NULL,
    description   TEXT,
    events        TEXT NOT NULL,
    secret_sealed TEXT NOT NULL,
    active        BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    deleted_at    BIGINT
);
CREATE INDEX webhooks_by_tenant ON webhooks (tenant_id) WHERE deleted_at IS NULL;

CREATE TABLE webhook_deliveries (
    id              TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    webhook_id      TEXT NOT NULL REFERENCES webhooks(id),
    event_id        TEXT NOT NULL,
    event_kind      TEXT NOT NULL,
    attempt         BIGINT NOT NULL,
    outcome         TEXT NOT NULL CHECK (outcome IN ('delivered', 'failed')),
    response_status BIGINT,
    error           TEXT,
    duration_ms     BIGINT NOT NULL,
    at              BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_by_hook ON webhook_deliveries (tenant_id, webhook_id, at DESC);

CREATE TABLE idempotency_keys (
    tenant_id        TEXT NOT NULL,
    principal_id     TEXT NOT NULL,
    key              TEXT NOT NULL,
    method           TEXT NOT NULL,
    path             TEXT NOT NULL,
    request_hash     TEXT NOT NULL,
    state            TEXT NOT NULL CHECK (state IN ('in_progress', 'done')),
    response_status  BIGINT,
    response_body    BLOB,
    response_type    TEXT,
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, principal_id, key)
);
CREATE INDEX idempotency_by_age ON idempotency_keys (created_at);
