"""Celery jobs and management commands leave one audit event each (door `job` or `cli`).

Connected to Celery's task signals in AuditConfig.ready, so every task of every app is covered
without each one remembering to; the sealer, which runs every second and only links events, is the
one task left out (it would otherwise write an event per second to record that it sealed one).
For the same reason its runs leave no INFO line in the worker's and beat's logs (RoutineTaskLogFilter).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.management.base import BaseCommand

from apps.core.request_context import request_context, request_context_reset, request_context_update

# Jobs that run every second or minute and usually have nothing to report: a line or an event per run
# would bury everything else (the demo login scrolled away under 3 lines a second). Their failures
# are still logged, at WARNING and ERROR, and the jobs log what they find themselves.
ROUTINE_TASKS = frozenset({"audit.seal", "quotas.rate_limit_refusals_flush"})
UNAUDITED_TASKS = ROUTINE_TASKS
# Celery's loggers that write one INFO line per task run: beat's "Sending due task", the worker's
# "Task ... received" and "Task ... succeeded".
CELERY_PER_RUN_LOGGERS = ("celery.beat", "celery.worker.strategy", "celery.app.trace")
_running: dict[str, tuple[Any, float]] = {}


class RoutineTaskLogFilter(logging.Filter):
    """Moves Celery's per-run INFO lines about a routine task down to DEBUG (shown only when asked for)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or not _names_routine_task(record.args):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)


def _names_routine_task(args: object) -> bool:
    # The worker's lines pass a dict with the task's name; beat's pass (entry name, task name).
    if isinstance(args, dict):
        return args.get("name") in ROUTINE_TASKS
    return isinstance(args, tuple) and any(isinstance(arg, str) and arg in ROUTINE_TASKS for arg in args)


def routine_task_logs_quiet() -> None:
    """Installed once per process (AuditConfig.ready: worker, beat and web alike)."""
    for name in CELERY_PER_RUN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RoutineTaskLogFilter) for existing in logger.filters):
            logger.addFilter(RoutineTaskLogFilter())


def task_started(*, task_id: str, task: Any, **kwargs: Any) -> None:
    if task.name in UNAUDITED_TASKS:
        return
    token = request_context_update(door="job", actor_id=None, actor_label="", token_id=None, invocation_id="")
    _running[task_id] = (token, time.perf_counter())


def task_finished(*, task_id: str, task: Any, state: str | None = None, **kwargs: Any) -> None:
    started = _running.pop(task_id, None)
    if started is None:
        return
    token, began = started
    try:
        from apps.audit.services import audit_event_record

        audit_event_record(
            action=f"job.{task.name}",
            actor=None,
            category="system",
            outcome="success" if state in {"SUCCESS", None} else "failure",
            error_code="" if state in {"SUCCESS", None} else str(state).lower(),
            target_type="task",
            target_id=task_id,
            duration_ms=round((time.perf_counter() - began) * 1000, 3),
        )
    finally:
        request_context_reset(token)


class AuditedCommand(BaseCommand):
    """A management command that leaves one event (`command.<name>`) with its outcome and duration.

    The event names the options given, never their values (a command may take a password)."""

    def execute(self, *args: Any, **options: Any) -> Any:
        from apps.audit.services import audit_event_record

        name = self.__module__.rpartition(".")[2]
        given = sorted(key for key, value in options.items() if value not in (None, False, [], "") and key not in {
            "verbosity", "settings", "pythonpath", "traceback", "no_color", "force_color", "skip_checks", "stdout",
            "stderr"})  # fmt: skip
        began = time.perf_counter()
        with request_context(door="cli", actor_id=None, actor_label="", token_id=None, invocation_id=""):
            outcome, error_code = "success", ""
            try:
                return super().execute(*args, **options)
            except SystemExit as exc:
                outcome, error_code = ("success", "") if not exc.code else ("failure", f"exit_{exc.code}")
                raise
            except BaseException as exc:
                outcome, error_code = "failure", type(exc).__name__[:50]
                raise
            finally:
                audit_event_record(
                    action=f"command.{name}",
                    actor=None,
                    category="system",
                    outcome=outcome,
                    error_code=error_code,
                    target_type="command",
                    target_id=name,
                    data={"options": given},
                    duration_ms=round((time.perf_counter() - began) * 1000, 3),
                )
