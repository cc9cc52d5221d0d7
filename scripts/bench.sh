#!/usr/bin/env bash
# Run every benchmark in bench/ against the configured database (set DATABASE_URL for PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/.."
export APP_ENV="${APP_ENV:-development}"
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-config.settings_test}"
shopt -s nullglob
for bench in bench/bench_*.py; do
  echo "== $bench"
  python "$bench" "$@"
done
