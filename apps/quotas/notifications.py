"""Messages for one account: stored for the app (GET /api/notifications) and sent by email, each once.

`dedup_key` is unique per account in the database, so "once per period, user and limit" holds across
restarts and processes: a second message with the same key is never stored nor emailed.
"""

from __future__ import annotations

from typing import Any

from django.core.mail import send_mail
from django.db import transaction

from apps.core.database import after_commit_released
from apps.quotas.models import Notification

EMAIL_SUBJECTS = {
    "budget_warning": "Todo MCP Gateway: budget warning",
    "provider_quota": "Todo MCP Gateway: your provider account is out of quota",
}


def notification_send(*, user, kind: str, message: str, data: dict[str, Any], dedup_key: str) -> Notification | None:
    """Store the notification and email it after commit, holding no connection meanwhile; None when one
    with this key was already sent."""
    with transaction.atomic():
        notification, created = Notification.objects.get_or_create(
            user=user, dedup_key=dedup_key, defaults={"kind": kind, "message": message, "data": data}
        )
    if not created:
        return None
    if user.email:
        subject = EMAIL_SUBJECTS.get(kind, "Todo MCP Gateway")
        address = user.email
        after_commit_released(lambda: _email(subject=subject, address=address, message=message))
    return notification


def _email(*, subject: str, address: str, message: str) -> None:
    # A warning is a courtesy: a mail server that is down must not fail the call that triggered it.
    send_mail(subject, message, None, [address], fail_silently=True)
