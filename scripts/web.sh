#!/usr/bin/env bash
# The web tier: uvicorn serving config.asgi (Django + MCP at /mcp). One place for its flags, used by
# `make run`, the Dockerfile / docker-compose.yml and bench/bench_http.py, so the bench measures what
# is deployed.
#   WEB_CONCURRENCY   worker processes (default: the machine's cores, `nproc`, when REDIS_URL is set;
#                     1 on the embedded default, whose in-process cache and rate-limit counters one
#                     worker would not see of another's)
#   WEB_ACCESS_LOG    1 to log every request (uvicorn's access log; off by default: at high load it
#                     costs a formatted line per call, and the audit trail already records each call)
#   HOST, PORT        where to listen (default 127.0.0.1:8000)
# Before serving, `manage.py static_ensure` collects the static files if their manifest is missing or old.
# uvloop and httptools are pinned in requirements.txt; uvicorn's "auto" would fall back silently to
# asyncio and h11 without them, so they are named here and a missing one fails loudly.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${WEB_CONCURRENCY:-}" ]; then
  if [ -n "${REDIS_URL:-}" ]; then WEB_CONCURRENCY="$(nproc)"; else WEB_CONCURRENCY=1; fi
fi
export WEB_CONCURRENCY
access_log="--no-access-log"
case "${WEB_ACCESS_LOG:-0}" in
  1 | true | yes | on) access_log="--access-log" ;;
  0 | false | no | off | "") ;;
  *) echo "WEB_ACCESS_LOG must be 0 or 1, not '${WEB_ACCESS_LOG}'" >&2; exit 2 ;;
esac
# Without DEBUG, pages need collected static files and their manifest (every page is a 500 without
# it): collect them when missing or out of date, so no start can forget (a no-op in the image, which
# collects at build time, and with DEBUG on).
python manage.py static_ensure
exec uvicorn config.asgi:application \
  --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}" \
  --workers "$WEB_CONCURRENCY" \
  --loop uvloop --http httptools \
  "$access_log" --no-proxy-headers --lifespan on "$@"
