-- 004_models: the inference models the platform can route to, with their limits and prices.

CREATE TABLE models (
    id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name                 text NOT NULL UNIQUE,
    provider             text NOT NULL,
    endpoint_url         text,
    context_window       integer NOT NULL CHECK (context_window > 0),
    max_output_tokens    integer NOT NULL CHECK (max_output_tokens > 0),
    input_price_per_mtok numeric(12, 6) NOT NULL DEFAULT 0 CHECK (input_price_per_mtok >= 0),
    output_price_per_mtok numeric(12, 6) NOT NULL DEFAULT 0 CHECK (output_price_per_mtok >= 0),
    status               text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'deprecated', 'disabled')),
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER models_updated_at BEFORE UPDATE ON models
    FOR EACH ROW EXECUTE FUNCTION set_updated_at();
