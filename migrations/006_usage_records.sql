-- 006_usage_records: one row per inference request, for metering and quotas.

CREATE TABLE usage_records (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    organization_id   uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    api_key_id        uuid REFERENCES api_keys (id) ON DELETE SET NULL,
    model_id          uuid NOT NULL REFERENCES models (id),
    request_id        text NOT NULL,
    prompt_tokens     integer NOT NULL CHECK (prompt_tokens >= 0),
    completion_tokens integer NOT NULL CHECK (completion_tokens >= 0),
    latency_ms        integer NOT NULL CHECK (latency_ms >= 0),
    status_code       smallint NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX usage_records_org_time_idx ON usage_records (organization_id, created_at DESC);
CREATE UNIQUE INDEX usage_records_request_idx ON usage_records (request_id);
