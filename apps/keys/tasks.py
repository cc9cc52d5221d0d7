from celery import shared_task

from apps.keys import services


# Both are idempotent, so a message whose worker died is run again (see CELERY_TASK_ACKS_LATE in settings).
@shared_task(name="keys.expire_and_warn", acks_late=True, reject_on_worker_lost=True)
def expire_and_warn() -> dict[str, int]:
    return services.provider_keys_expire_and_warn()


@shared_task(name="keys.rewrap", acks_late=True, reject_on_worker_lost=True)
def rewrap(batch_size: int | None = None) -> dict:
    # Idempotent and resumable, each batch committed with its audit event (see the service), so a
    # redelivered or retried task only does what is left.
    return services.provider_keys_rewrap(batch_size=batch_size)
