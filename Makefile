# The two commands: `make run` (the product) and `make test` (the whole gate).
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install lint fmt migrate bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python requirements.txt requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
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
