#!/usr/bin/env bash
# The one gate: lint, format, Django checks, migrations in sync, the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
export APP_ENV="${APP_ENV:-development}"
# A run starts hundreds of Python processes (pytest workers, servers, workers, manage.py): with
# PYTHONDONTWRITEBYTECODE set (as on our CI machines) each compiled every module it imported, and
# pytest rewrote every test module's asserts again in every worker. Byte-code caches (git-ignored
# __pycache__) make a Django start 1.0 s of CPU instead of 1.4 s and collection half as costly;
# `make install` leaves the compiling to the first import (the Makefile says why).
unset PYTHONDONTWRITEBYTECODE
ruff check .
ruff format --check .
DJANGO_SETTINGS_MODULE=config.settings_test python manage.py check --fail-level WARNING
# --skip-checks: the line above has just run the system checks, at a stricter level.
DJANGO_SETTINGS_MODULE=config.settings_test python manage.py makemigrations --check --dry-run --skip-checks
# Across every core (pytest-xdist; PYTEST_WORKERS=0 for one process), one worker more than there are
# cores: a test spends part of its time waiting (on the processes it starts, a browser, a timeout), and
# with one worker per core that time left the cores idle (on 2 cores, 3 workers took .ci/run from
# 6 min 48 s to about 5 min 40 s). Each worker has its own test database, Redis database and temporary
# folder (config/settings_test.py). The slowest 15 tests close the report, so a slow new test shows
# up in the run that adds it. `--dist load`, not loadscope or loadgroup: those key tests by node id,
# and schemathesis gives its 41 API cases one id (40 never ran).
python -m pytest -n "${PYTEST_WORKERS:-$(($(nproc) + 1))}" --dist load --durations=15 "$@"
