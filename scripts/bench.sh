#!/usr/bin/env bash
# `make bench`: the gateway's HTTP bench (bench/bench_http.py, see bench/README.md), on the PostgreSQL server
# of DATABASE_URL and the Redis database of REDIS_URL. Arguments go to bench_http.py, e.g.
#   make bench BENCH_ARGS="--mode throughput --duration 5"
# The other benches (bench/bench_vault.py, ...) run on their own: python bench/<name>.py.
set -euo pipefail
cd "$(dirname "$0")/.."
export APP_ENV="${APP_ENV:-development}"
if ! command -v wrk >/dev/null; then
  echo "Installing wrk (Debian package) for the load generator"
  if [ "$(id -u)" = 0 ]; then
    apt-get install -y wrk || { apt-get update && apt-get install -y wrk; }
  else
    sudo apt-get install -y wrk || { sudo apt-get update && sudo apt-get install -y wrk; }
  fi
fi
# No `manage.py database_ensure`: bench_http.py runs on a database of its own, `<DATABASE_URL's
# name>_run`, created empty at the start and dropped at the end (bench/run_state.py). The database
# DATABASE_URL names need not exist and is never changed.
exec python bench/bench_http.py "$@"
