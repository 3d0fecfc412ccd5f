-- seed 003: the mock inference model (MOCK_INFERENCE_MODEL, default mock-gpt, passed as the
-- session setting devenv.mock_inference_model) and the platform-wide `default` alias that
-- routes to it.
INSERT INTO models (name, provider, endpoint_url, context_window, max_output_tokens)
VALUES (current_setting('devenv.mock_inference_model'), 'mock', NULL, 8192, 2048)
ON CONFLICT (name) DO NOTHING;

INSERT INTO model_mappings (organization_id, alias, model_id)
SELECT NULL, 'default', m.id
FROM models m
WHERE m.name = current_setting('devenv.mock_inference_model')
ON CONFLICT ON CONSTRAINT model_mappings_alias_key DO NOTHING;
