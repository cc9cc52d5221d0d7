from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_schedules(sender: AppConfig, **kwargs: Any) -> None:
    from django.conf import settings

    from apps.core.schedules import periodic_task_ensure

    periodic_task_ensure(
        name="Seal audit events into the chain",
        task="audit.seal",
        every_seconds=settings.AUDIT_SEAL_INTERVAL_SECONDS,
    )
    periodic_task_ensure(
        name="Write a signed audit checkpoint",
        task="audit.checkpoint",
        every_seconds=settings.AUDIT_CHECKPOINT_INTERVAL_MINUTES * 60,
    )
    periodic_task_ensure(
        name="Delete audit events past their retention",
        task="audit.retention",
        crontab={"minute": "37", "hour": "2"},
    )


class AuditConfig(AppConfig):
    """Append-only, keyed-chain record of who did what."""

    name = "apps.audit"
    label = "audit"
    verbose_name = "Audit trail"

    def ready(self) -> None:
        from celery.signals import task_postrun, task_prerun

        from apps.audit import jobs

        post_migrate.connect(_ensure_schedules, sender=self, dispatch_uid="audit.schedules")
        task_prerun.connect(jobs.task_started, dispatch_uid="audit.task_started", weak=False)
        task_postrun.connect(jobs.task_finished, dispatch_uid="audit.task_finished", weak=False)
        jobs.routine_task_logs_quiet()
