"""Masking for anything that is about to be written to the audit trail or a log line.

Keys whose name suggests a secret are replaced entirely; string values that look like provider
keys or bearer tokens are masked wherever they appear.
"""

from __future__ import annotations

import re
from typing import Any

SECRET_KEY_NAMES = re.compile(r"(api[_-]?key|secret|password|token|authorization|ciphertext|plaintext)", re.I)
# sk-..., sk-proj-..., sk-ant-..., JWTs, and our own personal access tokens (gw_pat_...).
SECRET_VALUE = re.compile(
    r"(sk-(?:ant-|proj-)?[A-Za-z0-9_\-]{8,}|eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+|gw_pat_[A-Za-z0-9_\-]{8,})"
)
MASK = "[masked]"


def mask_text(text: str) -> str:
    return SECRET_VALUE.sub(MASK, text)


def mask_value(value: Any, *, key: str | None = None) -> Any:
    if key is not None and SECRET_KEY_NAMES.search(key):
        return MASK
    if isinstance(value, dict):
        return {str(k): mask_value(v, key=str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_value(item) for item in value]
    if isinstance(value, str):
        return mask_text(value)
    return value
