-- DNS hosting: a tenant's external DNS provider accounts, the secondaries that follow its
-- zones, the zones (SOA, serial, version for the DNS servers' refresh) and their records,
-- and the log of provider calls. Instants are BIGINT milliseconds (UTC); JSON is TEXT.

CREATE TABLE dns_providers (
    id            TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenants(id),
    name          TEXT NOT NULL,
    kind          TEXT NOT NULL CHECK (kind IN ('powerdns', 'rfc2136')),
    -- The settings without credentials, as the API shows them.
    settings      TEXT NOT NULL,
    -- The credential (PowerDNS API key, TSIG secret), sealed with the master key and bound to the row.
    secret_sealed TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    deleted_at    BIGINT
);
CREATE UNIQUE INDEX dns_providers_name ON dns_providers (tenant_id, name) WHERE deleted_at IS NULL;

-- Secondaries of a tenant's hosted zones: NOTIFY goes to `notify_address` after each change;
-- zone transfers are allowed from `allow_from` or when signed with the TSIG key.
CREATE TABLE dns_secondaries (
    id             TEXT PRIMARY KEY,
    tenant_id      TEXT NOT NULL REFERENCES tenants(id),
    name           TEXT NOT NULL,
    notify_address TEXT,
    allow_from     TEXT,
    tsig_name      TEXT,
    tsig_algorithm TEXT,
    tsig_sealed    TEXT,
    created_at     BIGINT NOT NULL,
    deleted_at     BIGINT
);
CREATE INDEX dns_secondaries_by_tenant ON dns_secondaries (tenant_id) WHERE deleted_at IS NULL;
-- A TSIG key name identifies the key on the server, across tenants.
CREATE UNIQUE INDEX dns_secondaries_tsig ON dns_secondaries (tsig_name) WHERE deleted_at IS NULL AND tsig_name IS NOT NULL;

CREATE TABLE dns_zones (
    -- Internal key (records refer to it); `id` is the public one.
    seq                INTEGER PRIMARY KEY AUTOINCREMENT,
    id                 TEXT NOT NULL UNIQUE,
    tenant_id          TEXT NOT NULL REFERENCES tenants(id),
    client_id          TEXT REFERENCES clients(id),
    -- ASCII (punycode), lowercase, without the final dot; and as people read it.
    name               TEXT NOT NULL,
    name_unicode       TEXT NOT NULL,
    -- NULL: served by Panel1's own server; else pushed to this provider account.
    provider_id        TEXT REFERENCES dns_providers(id),
    -- The domain this zone was made for, if any (domains.id).
    domain_id          TEXT,
    soa_mname          TEXT NOT NULL,
    soa_rname          TEXT NOT NULL,
    serial             BIGINT NOT NULL,
    refresh            BIGINT NOT NULL,
    retry              BIGINT NOT NULL,
    expire             BIGINT NOT NULL,
    minimum            BIGINT NOT NULL,
    soa_ttl            BIGINT NOT NULL,
    default_ttl        BIGINT NOT NULL,
    -- Record ids are numbers per zone, never reused.
    next_record_id     BIGINT NOT NULL DEFAULT 1,
    record_count       BIGINT NOT NULL DEFAULT 0,
    -- Bumped with every committed change; the DNS servers republish zones whose version moved.
    version            BIGINT NOT NULL DEFAULT 1,
    changed_at         BIGINT NOT NULL,
    -- Where the external provider is: pending, synced or failed (NULL for hosted zones).
    provider_status    TEXT,
    provider_version   BIGINT,
    provider_error     TEXT,
    provider_synced_at BIGINT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    -- Deleted zones stay as tombstones (records gone) so every DNS server sees the removal.
    deleted_at         BIGINT
);
CREATE UNIQUE INDEX dns_zones_name ON dns_zones (tenant_id, name) WHERE deleted_at IS NULL;
-- One installation serves a name once.
CREATE UNIQUE INDEX dns_zones_served_name ON dns_zones (name) WHERE deleted_at IS NULL AND provider_id IS NULL;
CREATE INDEX dns_zones_by_tenant ON dns_zones (tenant_id, name) WHERE deleted_at IS NULL;
CREATE INDEX dns_zones_by_client ON dns_zones (tenant_id, client_id, name) WHERE deleted_at IS NULL;
CREATE INDEX dns_zones_changed ON dns_zones (changed_at);

-- Records in chunks: each row holds the records of one zone whose ids run from `first_id` up
-- to the next chunk's `first_id`, as lines `id TAB name TAB type TAB ttl TAB content` in id
-- order (about 2 KB a chunk). A bulk import writes a few thousand rows for a million records;
-- a change rewrites only the chunks holding the records it touches. Owner names are relative
-- to the zone (`@`, `www`), content is canonical presentation text. No foreign key: records
-- are only reached through their zone.
CREATE TABLE dns_record_chunks (
    zone_seq BIGINT NOT NULL,
    first_id BIGINT NOT NULL,
    count    BIGINT NOT NULL,
    records  TEXT NOT NULL
);
CREATE UNIQUE INDEX dns_record_chunks_key ON dns_record_chunks (zone_seq, first_id);

-- Every call to an external DNS provider.
CREATE TABLE dns_provider_calls (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    provider_id TEXT NOT NULL,
    zone_id     TEXT,
    zone_name   TEXT NOT NULL,
    operation   TEXT NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('ok', 'error')),
    error       TEXT,
    retryable   BOOLEAN NOT NULL DEFAULT FALSE,
    duration_ms BIGINT NOT NULL,
    at          BIGINT NOT NULL
);
CREATE INDEX dns_provider_calls_by_zone ON dns_provider_calls (tenant_id, zone_id, at DESC);
