#!/usr/bin/env bash
# The one gate: lint, format, Django checks, migrations in sync, the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
export APP_ENV="${APP_ENV:-development}"
ruff check .
ruff format --check .
DJANGO_SETTINGS_MODULE=config.settings_test python manage.py check --fail-level WARNING
DJANGO_SETTINGS_MODULE=config.settings_test python manage.py makemigrations --check --dry-run
python -m pytest "$@"
