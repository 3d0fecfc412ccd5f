# DeveloperServiceConfig for the API service (rendered by `secrets-sync render` into
# .devenv/config/api.env). ${VAR} comes from the bundle; $${ writes a literal ${.
SERVICE_NAME=api
APP_ENV=dev-${DEVENV_MODE}
HTTP_LISTEN=127.0.0.1:8080
DATABASE_URL=${DATABASE_URL}
DATABASE_POOL_MAX=10
REDIS_URL=${REDIS_URL}
NATS_URL=${NATS_URL}
NATS_USER=${NATS_USER}
NATS_PASSWORD=${NATS_PASSWORD}
INFERENCE_BASE_URL=${MOCK_INFERENCE_URL}/v1
INFERENCE_MODEL=${MOCK_INFERENCE_MODEL}
