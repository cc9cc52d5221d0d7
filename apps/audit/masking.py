"""Masking for anything that is about to be written to the audit trail or a log line.

Keys whose name suggests a secret are replaced entirely; string values that look like provider
keys, bearer tokens or password hashes are masked wherever they appear. SQL statements logged at
DEBUG lose every string literal (see sql_literals_redact): a credential stored in any column is a
string, and no pattern list can know them all (session keys, reset tokens, ciphertext).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from apps.core.token_prefixes import OWN_TOKEN_PREFIXES

SECRET_KEY_NAMES = re.compile(r"(api[_-]?key|secret|password|token|authorization|ciphertext|plaintext)", re.I)
# Credentials of our own: JWTs (access and refresh tokens), the gateway's tokens by their visible
# prefixes (personal access tokens, OAuth access and refresh tokens: apps.core.token_prefixes, where
# accounts takes them from too) and Django password hashes in any hasher's "<algorithm>$..."
# encoding; each with a literal fragment every match contains (see SECRET_FRAGMENTS).
_OWN_SECRETS = (
    ("eyJ", r"eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+"),
    *((prefix, re.escape(prefix) + r"[A-Za-z0-9_\-]{8,}") for prefix in OWN_TOKEN_PREFIXES),
    ("$", r"\b(?:pbkdf2_sha256|pbkdf2_sha1|argon2|bcrypt_sha256|bcrypt|scrypt|md5|sha1)\$[A-Za-z0-9+/=$.,_\-]+"),
)
# Every provider's key formats (sk-..., sk-ant-..., AIza..., gsk_...) come from the provider registry,
# which registers them when the app registry is ready (apps.providers.apps): audit sits below providers,
# so it is told the formats rather than importing them. A provider's keys are masked in logs, audit and
# chat from the moment its module exists. Rebuilt by secret_patterns_add.
_provider_secrets: tuple[tuple[str, str], ...] = ()
SECRET_VALUE = re.compile("(" + "|".join(regex for _fragment, regex in _OWN_SECRETS) + ")")
MASK = "[masked]"
# The admin's password reset links (config/urls.py) carry a one-time token in the path.
RESET_LINK = re.compile(r"(/password-reset/)[^/\s]+/[^/\s]+")

# A single-quoted SQL literal, with '' as an escaped quote; an E'' / X'' / B'' prefix stays outside.
SQL_STRING_LITERAL = re.compile(r"'(?:[^']|'')*'")
SQL_REDACTED = "'[redacted]'"


# An email address keeps its first character and its domain in the audit trail: enough to tell
# accounts apart, not enough to harvest addresses from an export.
EMAIL = re.compile(r"\b([A-Za-z0-9])[A-Za-z0-9._%+\-]*@([A-Za-z0-9.\-]+\.[A-Za-z]{2,})\b")


# Text none of the patterns above can match lacks every one of these fragments: each pattern needs
# one of them literally. Checking for them (in C) first spares the regular expressions on nearly
# every string an event carries (tool names, codes, ids), which were most of an event's cost.
SECRET_FRAGMENTS = tuple(dict.fromkeys(fragment for fragment, _regex in (*_OWN_SECRETS, ("/password-reset/", ""))))


def _fragments_pattern(fragments: Iterable[str]) -> re.Pattern[str]:
    # One search in C instead of a Python-level any() over every fragment (an audit event checks ~20 texts).
    return re.compile("|".join(re.escape(fragment) for fragment in fragments))


_FRAGMENT = _fragments_pattern(SECRET_FRAGMENTS)


def secret_patterns_add(patterns: Iterable[tuple[str, str]]) -> None:
    """Mask these (literal fragment, regex) credential formats too; called once per process by the
    provider registry when the app registry is ready."""
    global _provider_secrets, SECRET_VALUE, SECRET_FRAGMENTS, _FRAGMENT
    _provider_secrets = tuple(dict.fromkeys((*_provider_secrets, *patterns)))
    every = (*_provider_secrets, *_OWN_SECRETS)
    SECRET_VALUE = re.compile("(" + "|".join(regex for _fragment, regex in every) + ")")
    SECRET_FRAGMENTS = tuple(dict.fromkeys(fragment for fragment, _regex in (*every, ("/password-reset/", ""))))
    _FRAGMENT = _fragments_pattern(SECRET_FRAGMENTS)


def holds_secret(text: str) -> bool:
    """Whether the text holds something masking would hide (a key, a token, a password hash)."""
    return _may_hold_secret(text) and SECRET_VALUE.search(text) is not None


def _may_hold_secret(text: str) -> bool:
    return _FRAGMENT.search(text) is not None


def mask_text(text: str) -> str:
    if not _may_hold_secret(text):
        return text
    return RESET_LINK.sub(rf"\g<1>{MASK}", SECRET_VALUE.sub(MASK, text))


def mask_audit_text(text: str) -> str:
    """What the audit trail stores: mask_text, and email addresses cut to `a***@example.com`."""
    text = mask_text(text)
    return EMAIL.sub(r"\1***@\2", text) if "@" in text else text


def mask_value(value: Any, *, key: str | None = None, text: Callable[[str], str] = mask_text) -> Any:
    if key is not None and SECRET_KEY_NAMES.search(key):
        return MASK
    if isinstance(value, dict):
        return {text(str(k)): mask_value(v, key=str(k), text=text) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_value(item, text=text) for item in value]
    if isinstance(value, str):
        return text(value)
    return value


def sql_literals_redact(sql: str) -> str:
    """The statement's shape without its string values: `WHERE token = '[redacted]'`."""
    return SQL_STRING_LITERAL.sub(SQL_REDACTED, sql)
