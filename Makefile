# The two commands: `make run` (the product) and `make test` (the whole gate).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install lint fmt migrate bench clean

# uv (pinned in requirements-bootstrap.txt) installs the pinned set in seconds where pip takes a
# minute or more on these 2-core machines (measured: 64 s with pip, 6 s with uv, from a warm cache);
# the machine's pip puts uv into the venv first. pip is installed too so `.venv/bin/pip` works as
# people expect. Byte-code is compiled on first import, not here (compiling all 12,000 files took
# 20 s; a run imports a fraction). If uv cannot be had, pip does the whole install as before.
$(BIN)/python:
	$(PYTHON) -m venv --without-pip $(VENV)

$(STAMP): $(BIN)/python requirements.txt requirements-dev.txt requirements-bootstrap.txt
	$(PYTHON) -m pip --python $(BIN)/python install --quiet -r requirements-bootstrap.txt \
	  && $(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements-dev.txt pip \
	  || { $(BIN)/python -m ensurepip --upgrade --default-pip >/dev/null \
	       && $(BIN)/python -m pip install --quiet -r requirements-dev.txt; }
	touch $(STAMP)

install: $(STAMP)

# Web (uvicorn: Django + MCP at /mcp), a Celery worker and beat, on SQLite/in-process by
# default or PostgreSQL/Redis when DATABASE_URL/REDIS_URL are set. exec: run.sh is make's own child,
# so the TERM make passes on reaches it and it stops everything it started.
run: install
	APP_ENV=$${APP_ENV:-development} PATH=$(abspath $(BIN)):$$PATH exec ./scripts/run.sh

test: install
	PATH=$(abspath $(BIN)):$$PATH ./scripts/test.sh

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

fmt: install
	$(BIN)/ruff check --fix . && $(BIN)/ruff format .

bench: install
	PATH=$(abspath $(BIN)):$$PATH ./scripts/bench.sh $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
