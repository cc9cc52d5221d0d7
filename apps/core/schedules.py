"""Default periodic jobs, written to django-celery-beat's tables once.

They are created only when missing, so an operator's edits in the admin (time, enabled) survive
deploys; beat reads them from the database.
"""

from __future__ import annotations

import json

from django.db import transaction


def periodic_task_ensure(
    *,
    name: str,
    task: str,
    crontab: dict[str, str] | None = None,
    every_seconds: int | None = None,
    kwargs: dict | None = None,
) -> None:
    """A crontab job, or one every `every_seconds` (whose runs expire unrun after a few intervals, so a
    busy worker does not find a pile of them waiting)."""
    from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

    kwargs = kwargs or {}
    with transaction.atomic():
        if PeriodicTask.objects.filter(name=name).exists():
            return
        if every_seconds is not None:
            interval, _ = IntervalSchedule.objects.get_or_create(every=every_seconds, period=IntervalSchedule.SECONDS)
            PeriodicTask.objects.create(
                name=name, task=task, interval=interval, expire_seconds=every_seconds * 5, kwargs=json.dumps(kwargs)
            )
            return
        crontab = crontab or {}
        schedule, _ = CrontabSchedule.objects.get_or_create(
            minute=crontab.get("minute", "*"),
            hour=crontab.get("hour", "*"),
            day_of_week=crontab.get("day_of_week", "*"),
            day_of_month=crontab.get("day_of_month", "*"),
            month_of_year=crontab.get("month_of_year", "*"),
            timezone="UTC",
        )
        PeriodicTask.objects.create(name=name, task=task, crontab=schedule, kwargs=json.dumps(kwargs or {}))
