"""How an OAuth client is named to people, and the OAuth events of the audit trail (one shape for all:
the target is the client, the data names it)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from apps.audit.services import audit_event_record

CLIENT_ID_STORED = 300  # a CIMD client_id is a URL; more would only be noise


DYNAMIC_HOST_LABEL = "registered dynamically"
MANUAL_HOST_LABEL = "registered by an operator"


def client_host(application: Any) -> str:
    """Where a client really comes from, as the consent page shows it: a CIMD client's own host
    (its client_id URL is the proof), else how it was registered (a DCR name is self-asserted)."""
    source = application.registration_source
    if source == application.RegistrationSource.CIMD:
        return urlsplit(application.client_id).hostname or application.client_id
    if source == application.RegistrationSource.DCR:
        return DYNAMIC_HOST_LABEL
    return MANUAL_HOST_LABEL


def client_label(application: Any) -> str:
    """How a client is named to people: its name, else where it comes from."""
    return application.name or client_host(application)


def oauth_event_record(
    action: str,
    *,
    client: Any = "",
    actor: Any = None,
    outcome: str = "success",
    category: str = "token",
    **data: Any,
) -> None:
    """One event; `client` is the Application when known, else the client_id as presented (or "")."""
    if client is not None and not isinstance(client, str):
        client_id = client.client_id
        data["client"] = client_label(client)
    else:
        client_id = client or ""
        if client_id:
            data["client_id"] = client_id[:CLIENT_ID_STORED]
    audit_event_record(
        action=action,
        actor=actor,
        outcome=outcome,
        category=category,
        target_type="oauth_client",
        target_id=client_id[:200],
        data=data,
    )
