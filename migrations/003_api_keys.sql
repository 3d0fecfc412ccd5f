-- 003_api_keys: keys clients call the inference API with. Only a sha256 of the key is kept;
-- the prefix (first characters, shown in the UI) finds the row.

CREATE TABLE api_keys (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    created_by      uuid REFERENCES users (id) ON DELETE SET NULL,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    prefix          text NOT NULL UNIQUE CHECK (prefix ~ '^[A-Za-z0-9_-]{8,16}$'),
    key_sha256      bytea NOT NULL CHECK (length(key_sha256) = 32),
    scopes          text[] NOT NULL DEFAULT '{inference}',
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_used_at    timestamptz,
    expires_at      timestamptz,
    revoked_at      timestamptz
);

CREATE INDEX api_keys_organization_idx ON api_keys (organization_id);
-- Lookups only ever want keys that can still be used.
CREATE INDEX api_keys_active_idx ON api_keys (prefix) WHERE revoked_at IS NULL;
