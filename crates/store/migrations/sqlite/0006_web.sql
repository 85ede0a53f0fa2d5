-- The web panel: server-side sessions (the cookie holds a random id; only its SHA-256 is
-- stored) and each user's TOTP second factor (the secret sealed with the master key).

CREATE TABLE web_sessions (
    id_hash             TEXT PRIMARY KEY,
    tenant_id           TEXT NOT NULL REFERENCES tenants(id),
    user_id             TEXT NOT NULL REFERENCES users(id),
    -- `totp`: password accepted, second factor pending; `enrol`: password accepted, staff
    -- user must enrol a second factor first; `full`: signed in.
    stage               TEXT NOT NULL CHECK (stage IN ('totp', 'enrol', 'full')),
    created_at          BIGINT NOT NULL,
    last_seen_at        BIGINT NOT NULL,
    expires_at          BIGINT NOT NULL,
    -- A TOTP secret being enrolled, sealed; moved to the user when confirmed.
    totp_pending_sealed TEXT,
    -- A one-time message for the next page (may hold a secret shown once), sealed.
    flash_sealed        TEXT,
    user_agent          TEXT,
    ip                  TEXT
);
CREATE INDEX web_sessions_by_user ON web_sessions (tenant_id, user_id);
CREATE INDEX web_sessions_by_expiry ON web_sessions (expires_at);

ALTER TABLE users ADD COLUMN totp_secret_sealed TEXT;
ALTER TABLE users ADD COLUMN totp_enabled_at BIGINT;
-- The last TOTP time step accepted, so a code cannot be used twice.
ALTER TABLE users ADD COLUMN totp_last_step BIGINT;
