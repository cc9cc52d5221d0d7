from celery import shared_task

from apps.accounts import services


@shared_task(name="accounts.flush_expired_tokens")
def flush_expired_tokens() -> int:
    return services.tokens_flush_expired()
