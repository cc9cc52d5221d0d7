import logging
import time

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from apps.keys import services

logger = logging.getLogger(__name__)


class _RunOver(Exception):
    """This run has used its share of the time limit; the rest goes to the next one."""


# Both are idempotent, so a message whose worker died is run again (see CELERY_TASK_ACKS_LATE in settings).
@shared_task(name="keys.expire_and_warn", acks_late=True, reject_on_worker_lost=True)
def expire_and_warn() -> dict[str, int]:
    return services.provider_keys_expire_and_warn()


@shared_task(bind=True, name="keys.rewrap", acks_late=True, reject_on_worker_lost=True)
def rewrap(self, batch_size: int | None = None, seconds: float | None = None) -> dict:
    """Re-wrap until every key is on the current master key, however long that takes.

    Each run stops after `seconds` (default: half the soft time limit) between two batches, or at the
    soft time limit itself, and queues the next run for the remainder: a rewrap of many keys never
    ends as a failed task with keys left behind. Batches commit with their audit events (see the
    service), so a stopped run loses at most the batch in flight, and the next run only does what is
    left. A run that commits no batch at all stops the chain (the batch is too big for the limit).
    """
    budget = seconds if seconds is not None else _half_the_soft_limit(self)
    deadline = None if budget is None else time.monotonic() + budget
    committed = 0

    def stop_when_due(counts: dict[str, int]) -> None:
        nonlocal committed
        committed = counts["batches"]
        if deadline is not None and time.monotonic() >= deadline:
            raise _RunOver

    try:
        return services.provider_keys_rewrap(batch_size=batch_size, progress=stop_when_due)
    except (_RunOver, SoftTimeLimitExceeded) as stop:
        if not committed:
            logger.error("vault rewrap: no batch finished within the time limit; lower VAULT_REWRAP_BATCH_SIZE")
            raise
        logger.info("vault rewrap: %d batches done in this run; the next run continues", committed)
        rewrap.apply_async(kwargs={"batch_size": batch_size, "seconds": seconds})
        return {"batches": committed, "continued": True, "stopped_by": type(stop).__name__}


def _half_the_soft_limit(task) -> float | None:
    # A limit given when queueing wins over the configured one (Celery's own precedence).
    soft = (task.request.timelimit or (None, None))[1] or task.app.conf.task_soft_time_limit
    return soft / 2 if soft else None
