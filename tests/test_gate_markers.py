"""The test gate's own rule (conftest.py): a test whose need is unmet is deselected with a closing line
naming the command that runs it, and REQUIRE_SERVICES=1 refuses to start without every need met."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

# Starts its processes with an environment of its own, never the run's DATABASE_URL or REDIS_URL.
pytestmark = pytest.mark.own_environment

ROOT = Path(__file__).resolve().parent.parent
# One file that needs Redis, one that drives the browser (by its fixture alone), one that needs neither.
FILES = [
    "apps/providers/tests/test_breaker_shared.py",
    "apps/web/tests/test_browser_ops.py",
    "tests/test_secret_generators.py",
]


def collect(**env: str) -> subprocess.CompletedProcess:
    environ = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    environ.pop("REQUIRE_SERVICES", None)
    environ.pop("PYTEST_XDIST_WORKER", None)
    environ.update(env)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-n", "0", "-p", "no:cacheprovider", "--collect-only", "-q", *FILES],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_unmet_needs_are_deselected_with_one_line_each_and_the_command():
    run = collect(WEB_TEST_CHROMIUM="/nonexistent/chromium")

    assert run.returncode == 0, run.stdout + run.stderr
    collected = [line for line in run.stdout.splitlines() if "::" in line]
    assert collected and all(line.startswith("tests/test_secret_generators.py::") for line in collected)
    assert "1 test needs PostgreSQL or Redis, left out here; run them with: DATABASE_URL=" in run.stdout
    assert "3 tests need Debian's chromium, left out here; run them with: apt-get install chromium" in run.stdout


def test_require_services_refuses_to_start_without_every_need(monkeypatch):
    import conftest

    monkeypatch.setenv("REQUIRE_SERVICES", "1")
    monkeypatch.setenv("WEB_TEST_CHROMIUM", "/nonexistent/chromium")

    with pytest.raises(pytest.exit.Exception) as refused:
        conftest.pytest_sessionstart(None)

    assert refused.value.returncode == 4
    assert "REQUIRE_SERVICES=1 but no" in refused.value.msg
    assert "Debian's chromium" in refused.value.msg
