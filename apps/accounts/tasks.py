from celery import shared_task

from apps.accounts import services
from apps.accounts.audit_alerts import audit_verify_and_alert


@shared_task(name="accounts.flush_expired_tokens")
def flush_expired_tokens() -> int:
    return services.tokens_flush_expired()


@shared_task(name="accounts.audit_verify")
def audit_verify() -> bool:
    """Daily: the audit chain verified from the last retention checkpoint; operators and auditors mailed on damage."""
    return audit_verify_and_alert().intact
