"""The once-a-second sealer leaves no INFO line in a real worker's or beat's log (`make run` shows
what matters: the demo login, warnings, other jobs), and still does its work."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from apps.audit.jobs import RoutineTaskLogFilter
from apps.audit.models import AuditEvent
from apps.audit.services import audit_event_record
from tests.test_celery_worker import database_url_for_test_db, wait_until
from tests.test_compose_runtime import stop

ROOT = Path(__file__).resolve().parent.parent


def _start(command: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "config", *command, "--loglevel", "info"],
        cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip


@pytest.mark.slow
def test_the_sealer_runs_on_worker_and_beat_without_an_info_line_per_run(transactional_db, tmp_path):
    event = audit_event_record(action="todo.created", actor=None, category="todo")
    # What `make run` runs (development settings, not the test settings, whose eager tasks would
    # run the sealer inside beat), on this test's database.
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "APP_ENV": "development",
           "DATABASE_URL": database_url_for_test_db(), "LOG_LEVEL": "info"}  # fmt: skip
    worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
    worker = _start(["worker", "--pool", "solo", "--without-gossip", "--without-mingle"], env, worker_log)
    beat = _start(["beat", "--scheduler", "django_celery_beat.schedulers:DatabaseScheduler"], env, beat_log)
    try:
        sealed = wait_until(
            lambda: AuditEvent.objects.filter(pk=event.pk, hash__isnull=False).exists(), timeout=150, interval=0.5
        )
        assert sealed, f"never sealed\n{worker_log.read_text()[-2000:]}\n{beat_log.read_text()[-2000:]}"
        # A few more runs after the one that sealed.
        wait_until(lambda: False, timeout=3)
    finally:
        stop(beat)
        stop(worker)

    # The worker's banner lists the task once; no run adds a line ("Task audit.seal[id] received",
    # "... succeeded", beat's "Sending due task ... (audit.seal)").
    for log in (worker_log, beat_log):
        text = log.read_text()
        assert "audit.seal[" not in text and "(audit.seal)" not in text, text[-2000:]
    assert " ready." in worker_log.read_text() and "beat: Starting" in beat_log.read_text()


def test_a_routine_tasks_lines_are_still_there_at_debug_and_failures_stay_loud():
    logger = logging.getLogger("celery.app.trace")
    routine_filter = RoutineTaskLogFilter()

    def record(level: int, name: str) -> logging.LogRecord:
        return logger.makeRecord(
            logger.name, level, __file__, 1, "Task %(name)s[%(id)s] done", ({"name": name, "id": "1"},), None
        )

    previous = logger.level
    logger.setLevel(logging.DEBUG)
    try:
        demoted = record(logging.INFO, "audit.seal")
        assert routine_filter.filter(demoted) and demoted.levelname == "DEBUG"
    finally:
        logger.setLevel(previous)
    assert not routine_filter.filter(record(logging.INFO, "audit.seal"))  # at INFO: not shown
    assert routine_filter.filter(record(logging.ERROR, "audit.seal"))  # a failure is shown as ever
    other = record(logging.INFO, "keys.rewrap")
    assert routine_filter.filter(other) and other.levelname == "INFO"
