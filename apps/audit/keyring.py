"""AUDIT_CHAIN_KEYS: "v2:<secret>,v1:<secret>", the first seals new events, the others still verify.

Plain Python (no app loading), so the settings parse it at start-up and a bad keyring stops the
service there. The secrets never reach the database: an editor with database access cannot
recompute a chain they do not hold the key for.
"""

from __future__ import annotations

import re
import secrets

from django.core.exceptions import ImproperlyConfigured

VERSION = re.compile(r"[A-Za-z0-9_-]{1,16}")
MIN_SECRET_LENGTH = 32


def audit_keyring(name: str, raw: str) -> list[tuple[str, str]]:
    """[(version, secret), ...], current first."""
    entries: list[tuple[str, str]] = []
    for entry in (part.strip() for part in raw.split(",")):
        version, sep, secret = entry.partition(":")
        if not sep or not VERSION.fullmatch(version) or len(secret) < MIN_SECRET_LENGTH:
            raise ImproperlyConfigured(
                f"{name} must be 'version:secret' entries separated by commas (secret at least "
                f"{MIN_SECRET_LENGTH} characters, version letters, digits, '-' or '_')."
            )
        if version in {known for known, _ in entries}:
            raise ImproperlyConfigured(f"{name} names version {version!r} twice.")
        entries.append((version, secret))
    if not entries:
        raise ImproperlyConfigured(f"{name} holds no key.")
    return entries


def audit_key_entry(version: str = "v1") -> str:
    return f"{version}:{secrets.token_urlsafe(48)}"
