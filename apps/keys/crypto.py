"""Envelope encryption for provider keys: AES-256-GCM under a per-secret data key, wrapped by a master key.

    secret --AES-256-GCM(data key, nonce, AAD)--> ciphertext
    data key --AES-256-GCM(master key[version], data-key nonce, AAD + version)--> wrapped data key

The associated data names the owner, the provider and the row, so a ciphertext (or a wrapped data
key) copied onto another row or another user fails authentication instead of decrypting. The
keyring is read from settings at call time, so tests and a rolling restart see the current one.
Every failure is a VaultError with a message that names no key material.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings

from apps.keys.keyring import vault_keyring

NONCE_BYTES = 12
DATA_KEY_BYTES = 32
AAD_VERSION = b"gw.provider_key.v1"


class VaultError(Exception):
    """A ciphertext could not be opened: tampered, moved to another row, or an unknown master key."""


class UnknownMasterKey(VaultError):
    pass


@dataclass(frozen=True)
class Sealed:
    """The stored parts of one encrypted secret (each its own column)."""

    nonce: bytes
    ciphertext: bytes
    wrapped_data_key: bytes
    data_key_nonce: bytes
    master_key_version: str


@functools.lru_cache(maxsize=8)
def _parsed(raw: str) -> tuple[tuple[str, bytes], ...]:
    return tuple(vault_keyring("VAULT_MASTER_KEYS", raw))


def keyring() -> tuple[tuple[str, bytes], ...]:
    return _parsed(settings.VAULT_MASTER_KEYS)


def current_master_key_version() -> str:
    return keyring()[0][0]


def _master_key(version: str) -> bytes:
    for name, material in keyring():
        if name == version:
            return material
    raise UnknownMasterKey(
        f"Master key {version} is not in VAULT_MASTER_KEYS; put it back until `vault_rewrap` has finished."
    )


def associated_data(*, owner_id: int, provider: str, key_id: int) -> bytes:
    if not owner_id or not key_id:
        raise ValueError("associated data needs the saved row's id and its owner's id")
    return b"|".join(
        [AAD_VERSION, f"owner={owner_id}".encode(), f"provider={provider}".encode(), f"key={key_id}".encode()]
    )


def _wrap_aad(aad: bytes, version: str) -> bytes:
    # The version is bound too: relabelling a row's master_key_version cannot pass for another key.
    return aad + b"|data-key|master=" + version.encode()


def _wrap(data_key: bytes, *, aad: bytes) -> tuple[bytes, bytes, str]:
    version, master = keyring()[0]
    nonce = os.urandom(NONCE_BYTES)
    return AESGCM(master).encrypt(nonce, data_key, _wrap_aad(aad, version)), nonce, version


def _unwrap(sealed: Sealed, *, aad: bytes) -> bytes:
    master = _master_key(sealed.master_key_version)
    try:
        return AESGCM(master).decrypt(
            bytes(sealed.data_key_nonce), bytes(sealed.wrapped_data_key), _wrap_aad(aad, sealed.master_key_version)
        )
    except (InvalidTag, ValueError):
        raise VaultError(
            "The stored data key failed authentication (tampered, moved to another row, or a wrong master key)."
        ) from None


def seal(plaintext: str, *, aad: bytes) -> Sealed:
    data_key = AESGCM.generate_key(bit_length=256)
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(data_key).encrypt(nonce, plaintext.encode(), aad + b"|secret")
    wrapped, data_key_nonce, version = _wrap(data_key, aad=aad)
    return Sealed(
        nonce=nonce,
        ciphertext=ciphertext,
        wrapped_data_key=wrapped,
        data_key_nonce=data_key_nonce,
        master_key_version=version,
    )


def open_sealed(sealed: Sealed, *, aad: bytes) -> str:
    return _open(sealed, aad=aad)


def _open(sealed: Sealed, *, aad: bytes) -> str:
    data_key = _unwrap(sealed, aad=aad)
    try:
        plaintext = AESGCM(data_key).decrypt(bytes(sealed.nonce), bytes(sealed.ciphertext), aad + b"|secret")
    except (InvalidTag, ValueError):
        raise VaultError("The stored secret failed authentication (tampered or moved to another row).") from None
    return plaintext.decode()


def rewrap(sealed: Sealed, *, aad: bytes) -> Sealed:
    """Re-wrap the data key under the current master key; the secret's ciphertext is untouched."""
    data_key = _unwrap(sealed, aad=aad)
    wrapped, data_key_nonce, version = _wrap(data_key, aad=aad)
    return Sealed(
        nonce=bytes(sealed.nonce),
        ciphertext=bytes(sealed.ciphertext),
        wrapped_data_key=wrapped,
        data_key_nonce=data_key_nonce,
        master_key_version=version,
    )


def fingerprint_peppers() -> dict[str, bytes]:
    """Pepper id -> pepper, the current one (VAULT_FINGERPRINT_PEPPER_ID) first, then the previous ones."""
    return {
        settings.VAULT_FINGERPRINT_PEPPER_ID: settings.VAULT_FINGERPRINT_SECRET.encode(),
        **{pepper_id: pepper.encode() for pepper_id, pepper in settings.VAULT_FINGERPRINT_SECRETS_PREVIOUS.items()},
    }


def current_fingerprint_pepper_id() -> str:
    return settings.VAULT_FINGERPRINT_PEPPER_ID


def fingerprint(plaintext: str, *, pepper_id: str | None = None) -> str:
    """HMAC-SHA256 under a server pepper (the current one by default): finds the same key stored twice
    without decrypting anything. Stored with its pepper id, so the pepper can rotate."""
    pepper = fingerprint_peppers()[pepper_id or current_fingerprint_pepper_id()]
    return hmac.new(pepper, plaintext.encode(), hashlib.sha256).hexdigest()


def fingerprints(plaintext: str) -> dict[str, str]:
    """The secret's fingerprint under every known pepper, to find duplicates stored before a rotation."""
    return {pepper_id: fingerprint(plaintext, pepper_id=pepper_id) for pepper_id in fingerprint_peppers()}


def sealed_fingerprint(sealed: Sealed, *, aad: bytes) -> str:
    """The current-pepper fingerprint of a stored secret, for re-fingerprinting after a pepper rotation.

    The plaintext stays inside this module: only its HMAC leaves.
    """
    return fingerprint(_open(sealed, aad=aad))
