"""The vault master keyring's text form: "v2:<base64 32 bytes>,v1:<base64>", current first.

Plain Python with no app loading, so settings (which validate VAULT_MASTER_KEYS at start-up), the
secret generators and apps.keys.crypto all parse it the same way, and new entries are made here.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets

from django.core.exceptions import ImproperlyConfigured

_KEY_VERSION = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
VAULT_KEY_BYTES = 32


def vault_keyring(name: str, raw: str) -> list[tuple[str, bytes]]:
    """Parse "v2:<base64 32 bytes>,v1:<base64>" into [(version, key), ...], current first.

    Messages name the entry by position and version, never its key material.
    """
    entries: list[tuple[str, bytes]] = []
    for position, item in enumerate((part.strip() for part in raw.split(",") if part.strip()), start=1):
        version, sep, encoded = item.partition(":")
        version = version.strip()
        if not sep or not _KEY_VERSION.match(version):
            raise ImproperlyConfigured(
                f"{name} entry {position} must look like v1:<base64 key> (a version of letters, digits, '-', '_')."
            )
        # Standard or URL-safe alphabet, padding optional: people paste keys from different tools.
        text = encoded.strip().replace("-", "+").replace("_", "/")
        try:
            material = base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
        except (binascii.Error, ValueError):
            raise ImproperlyConfigured(f"{name} entry {position} ({version}) is not valid base64.") from None
        if len(material) != VAULT_KEY_BYTES:
            raise ImproperlyConfigured(
                f"{name} entry {position} ({version}) must decode to {VAULT_KEY_BYTES} bytes, got {len(material)}."
            )
        if any(existing == version for existing, _ in entries):
            raise ImproperlyConfigured(f"{name} lists version {version} twice.")
        entries.append((version, material))
    if not entries:
        raise ImproperlyConfigured(f"{name} holds no keys; generate one with `manage.py vault_generate_key`.")
    return entries


def master_key_entry(version: str) -> str:
    """A fresh master key as a keyring entry, "<version>:<base64 of 32 random bytes>".

    The one generator: development start-up (config/env.py), `generate_secrets` and
    `vault_generate_key` (config/secret_generators.py) all use it.
    """
    return f"{version}:{base64.b64encode(secrets.token_bytes(VAULT_KEY_BYTES)).decode()}"
