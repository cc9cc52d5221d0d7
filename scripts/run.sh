#!/usr/bin/env bash
# Start the whole product in the foreground: migrate, demo account, worker+beat, web server.
set -euo pipefail
cd "$(dirname "$0")/.."
export APP_ENV="${APP_ENV:-development}"
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
# Links the app prints (demo login, MCP metadata) must name the address actually served.
export PUBLIC_BASE_URL="${PUBLIC_BASE_URL:-http://$HOST:$PORT}"

python manage.py migrate --no-input
if [ "$APP_ENV" = "development" ]; then
  python manage.py bootstrap_demo
fi

# One worker process with an embedded beat is enough on one machine; production runs them
# as separate services (docker-compose.yml).
celery -A config worker --beat --loglevel "${CELERY_LOG_LEVEL:-info}" --concurrency "${CELERY_CONCURRENCY:-2}" \
  --scheduler django_celery_beat.schedulers:DatabaseScheduler &
WORKER_PID=$!
trap 'kill "$WORKER_PID" 2>/dev/null || true; wait "$WORKER_PID" 2>/dev/null || true' EXIT INT TERM

echo "Serving http://$HOST:$PORT/ (admin at /admin/, API docs at /api/docs/, MCP at /mcp)"
uvicorn config.asgi:application --host "$HOST" --port "$PORT" --no-proxy-headers --lifespan on
