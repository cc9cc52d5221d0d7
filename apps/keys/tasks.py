from celery import shared_task

from apps.keys import services


@shared_task(name="keys.expire_and_warn")
def expire_and_warn() -> dict[str, int]:
    return services.provider_keys_expire_and_warn()


@shared_task(name="keys.rewrap", acks_late=True)
def rewrap(batch_size: int | None = None) -> dict:
    # Idempotent and resumable (see the service), so a redelivered or retried task is harmless.
    return services.provider_keys_rewrap(batch_size=batch_size)
