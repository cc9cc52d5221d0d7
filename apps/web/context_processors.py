"""What every page's header needs."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from apps.providers.registry import provider_names_sentence

# URL names -> the navigation entry they belong to (aria-current="page").
_SECTIONS = {
    "setup": "setup",
    "keys": "keys",
    "tokens": "tokens",
    "connections": "connections",
    "connection_disconnect": "connections",
    "password_change": "password",
    "usage": "usage",
    "activity": "activity",
    "chat": "chat",
    "chat_conversation": "chat",
}


def site(request: HttpRequest) -> dict[str, Any]:
    match = getattr(request, "resolver_match", None)
    name = match.url_name if match is not None and match.namespace == "web" else ""
    section = _SECTIONS.get(name or "", "keys" if (name or "").startswith("key_") else "")
    if (name or "").startswith("token_"):
        section = "tokens"
    return {
        "registration_open": settings.REGISTRATION_OPEN,
        "nav": section,
        # Pages name providers only through the registry (a sentence of display names).
        "provider_names": provider_names_sentence(),
    }
