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


@shared_task(name="accounts.oauth_unused_clients_delete")
def oauth_unused_clients_delete() -> int:
    """Hourly: dynamic OAuth registrations nobody signed in with (OAUTH_UNUSED_CLIENT_HOURS) are deleted."""
    from oauth2_provider.models import clear_expired

    from apps.accounts.oauth.connections import oauth_unused_clients_delete as delete_unused
    from apps.accounts.oauth.validator import expired_codes_forget

    expired_codes_forget()
    clear_expired()  # the toolkit's own sweep of expired tokens and codes
    return delete_unused()
