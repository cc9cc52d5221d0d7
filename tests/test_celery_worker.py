"""A real Celery worker process consumes a task from the configured broker and changes the database."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from apps.accounts.tasks import flush_expired_tokens

ROOT = Path(__file__).resolve().parent.parent


def database_url_for_test_db() -> str:
    settings_dict = connection.settings_dict
    if settings_dict["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{settings_dict['NAME']}"
    user = quote(settings_dict["USER"] or "")
    password = quote(settings_dict["PASSWORD"] or "")
    auth = f"{user}:{password}@" if password else f"{user}@"
    return f"postgres://{auth}{settings_dict['HOST']}:{settings_dict['PORT'] or 5432}/{settings_dict['NAME']}"


def wait_until(predicate, *, timeout: float, interval: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


@pytest.fixture
def worker(transactional_db, tmp_path):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings_test", "DATABASE_URL": database_url_for_test_db()}
    log = (tmp_path / "worker.log").open("w+")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "celery", "-A", "config", "worker",
            "--pool", "solo", "--loglevel", "info", "--without-gossip", "--without-mingle", "--without-heartbeat",
        ],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    yield process, log
    process.terminate()
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()


@pytest.mark.slow
def test_a_task_runs_on_a_real_worker_and_its_effect_is_in_the_database(worker, alice):
    process, log = worker
    expired = RefreshToken.for_user(alice)
    fresh = RefreshToken.for_user(alice)
    OutstandingToken.objects.filter(jti=expired["jti"]).update(expires_at=timezone.now() - dt.timedelta(hours=1))

    from config.celery import app

    # The test settings run tasks in-process; this one must go through the broker.
    app.conf.task_always_eager = False
    try:
        flush_expired_tokens.delay()
    finally:
        app.conf.task_always_eager = True

    def worker_log() -> str:
        log.seek(0)
        return log.read()

    gone = wait_until(lambda: not OutstandingToken.objects.filter(jti=expired["jti"]).exists(), timeout=60)
    assert gone, f"worker did not run the task; exit={process.poll()} log:\n{worker_log()[-3000:]}"
    assert OutstandingToken.objects.filter(jti=fresh["jti"]).exists()
    # The worker logs success just after its transaction commits, so wait for that line too.
    assert wait_until(
        lambda: "accounts.flush_expired_tokens" in worker_log() and "succeeded" in worker_log(), timeout=30
    )
