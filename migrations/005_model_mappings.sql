-- 005_model_mappings: the model name a client asks for (an alias) -> the model that serves
-- it. A mapping without organization is the platform-wide default; an organization's own
-- mapping for the same alias wins.

CREATE TABLE model_mappings (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    organization_id uuid REFERENCES organizations (id) ON DELETE CASCADE,
    alias           text NOT NULL CHECK (alias ~ '^[A-Za-z0-9._:/-]{1,100}$'),
    model_id        uuid NOT NULL REFERENCES models (id) ON DELETE RESTRICT,
    priority        integer NOT NULL DEFAULT 0,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- One global mapping per alias too: NULLs are not distinct here (PostgreSQL 15).
    CONSTRAINT model_mappings_alias_key UNIQUE NULLS NOT DISTINCT (organization_id, alias)
);

CREATE INDEX model_mappings_model_idx ON model_mappings (model_id);
