"""The daily audit check: verify the chain and tell the people who answer for it when it fails.

Lives in accounts, not audit: who the operators and auditors are is an accounts question, and the
audit app sits below accounts.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.mail import send_mail

from apps.accounts.models import User
from apps.accounts.roles import ROLE_AUDITOR, ROLE_OPERATOR
from apps.audit.chain import audit_chain_seal
from apps.audit.services import audit_event_record
from apps.audit.verify import VerifyResult, audit_chain_verify

logger = logging.getLogger(__name__)


def audit_alert_recipients() -> list[str]:
    users = User.objects.filter(is_active=True, groups__name__in=[ROLE_OPERATOR, ROLE_AUDITOR]).exclude(email="")
    return sorted(set(users.values_list("email", flat=True)))


def audit_verify_and_alert() -> VerifyResult:
    """Seal, verify, record the outcome; on damage, log an error and mail operators and auditors."""
    audit_chain_seal()
    result = audit_chain_verify()
    audit_event_record(
        action="audit.verified",
        actor=None,
        category="system",
        outcome="success" if result.intact else "failure",
        error_code=result.damage,
        target_type="audit_event",
        target_id=result.event_id or "",
        data={"checked": result.checked, "seq": result.seq, "detail": result.detail},
    )
    if not result.intact:
        summary = f"{result.damage} at event id={result.event_id} seq={result.seq}: {result.detail}"
        _alert(f"The daily audit_verify found damage in the audit trail: {summary}.")
    return result


def _alert(finding: str) -> None:
    logger.error("Audit chain verification FAILED: %s", finding)
    send_mail(
        subject="[gateway] audit trail verification failed",
        message=f"{finding}\nRun `manage.py audit_verify` to see it, and compare with the checkpoint file.",
        from_email=None,
        recipient_list=audit_alert_recipients(),
        fail_silently=True,
    )


def on_events_set_aside(sender: Any, event_ids: list[int], **kwargs: Any) -> None:
    """The sealer found events the application did not write (their MAC fails): the damage alert, at once."""
    shown = ", ".join(str(pk) for pk in event_ids[:20]) + (", ..." if len(event_ids) > 20 else "")
    _alert(f"The audit sealer set aside {len(event_ids)} forged event(s) (ids {shown}): their MAC does not verify.")
