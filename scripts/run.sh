#!/usr/bin/env bash
# Start the whole product in the foreground: database, migrate, demo account, worker, beat, web server.
# TERM or Ctrl-C stops everything this script started and exits 0; if the web server or the worker
# ends on its own, the others are stopped too and its exit status is ours.
set -euo pipefail
cd "$(dirname "$0")/.."
export APP_ENV="${APP_ENV:-development}"
# `make install` compiles no byte-code (the Makefile says why): the first start writes the caches, so
# a machine that sets PYTHONDONTWRITEBYTECODE does not compile every import in every process, on
# every start. The production image sets it and ships its own.
unset PYTHONDONTWRITEBYTECODE
HOST="${HOST:-127.0.0.1}"
PORT="${PORT:-8000}"
# Links the app prints (demo login, MCP metadata) must name the address actually served.
export PUBLIC_BASE_URL="${PUBLIC_BASE_URL:-http://$HOST:$PORT}"

# One Django start for database_ensure (a missing PostgreSQL database is created when the role may;
# otherwise one line says what to do), migrate and, in development, bootstrap_demo.
python manage.py prepare

pids=()
stop_children() {
  trap - INT TERM
  if [ "${#pids[@]}" -gt 0 ]; then
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
}
trap 'stop_children; exit 0' INT TERM

# Worker and beat as separate processes, as in production (docker-compose.yml). An embedded beat
# (worker --beat) only notices a stop after its next 5-second sleep, doubling the time to stop.
celery -A config worker --loglevel "${CELERY_LOG_LEVEL:-info}" --concurrency "${CELERY_CONCURRENCY:-2}" &
pids+=("$!")
celery -A config beat --loglevel "${CELERY_LOG_LEVEL:-info}" --scheduler django_celery_beat.schedulers:DatabaseScheduler &
pids+=("$!")

echo "Serving http://$HOST:$PORT/ (admin at /admin/, API docs at /api/docs/, MCP at /mcp)"
# WEB_CONCURRENCY uvicorn workers, by default one per core (scripts/web.sh).
HOST="$HOST" PORT="$PORT" ./scripts/web.sh &
pids+=("$!")

# Background jobs, so this shell stays free to run the trap the moment a signal arrives.
status=0
wait -n "${pids[@]}" || status=$?
stop_children
exit "$status"
