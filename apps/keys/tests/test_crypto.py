from dataclasses import replace

import pytest

from apps.keys import crypto
from apps.keys.tests.conftest import master_key

SECRET = "sk-proj-" + "x1Y2z3" * 20
AAD = crypto.associated_data(owner_id=7, provider="openai", key_id=42)


def test_a_sealed_secret_opens_to_the_same_text(keyring):
    sealed = crypto.seal(SECRET, aad=AAD)

    assert crypto.open_sealed(sealed, aad=AAD) == SECRET
    assert SECRET.encode() not in sealed.ciphertext
    assert len(sealed.nonce) == 12 and len(sealed.data_key_nonce) == 12
    assert len(sealed.wrapped_data_key) == 32 + 16
    assert sealed.master_key_version == "v1"


def test_each_seal_uses_a_fresh_data_key_and_nonces(keyring):
    first, second = crypto.seal(SECRET, aad=AAD), crypto.seal(SECRET, aad=AAD)

    assert first.ciphertext != second.ciphertext
    assert first.wrapped_data_key != second.wrapped_data_key
    assert first.nonce != second.nonce


@pytest.mark.parametrize("part", ["nonce", "ciphertext", "wrapped_data_key", "data_key_nonce"])
@pytest.mark.parametrize("position", [0, -1])
def test_a_flipped_bit_anywhere_fails_clearly(keyring, part, position):
    sealed = crypto.seal(SECRET, aad=AAD)
    damaged = bytearray(getattr(sealed, part))
    damaged[position] ^= 0x01

    with pytest.raises(crypto.VaultError, match="failed authentication"):
        crypto.open_sealed(replace(sealed, **{part: bytes(damaged)}), aad=AAD)


@pytest.mark.parametrize(
    "other",
    [
        {"owner_id": 8, "provider": "openai", "key_id": 42},
        {"owner_id": 7, "provider": "openai", "key_id": 43},
        {"owner_id": 7, "provider": "openai_compatible", "key_id": 42},
    ],
    ids=["another-owner", "another-row", "another-provider"],
)
def test_a_ciphertext_moved_to_another_owner_row_or_provider_does_not_open(keyring, other):
    sealed = crypto.seal(SECRET, aad=AAD)

    with pytest.raises(crypto.VaultError):
        crypto.open_sealed(sealed, aad=crypto.associated_data(**other))


def test_a_wrong_master_key_under_the_same_version_fails(keyring):
    sealed = crypto.seal(SECRET, aad=AAD)
    keyring(master_key("v1"))

    with pytest.raises(crypto.VaultError, match="wrong master key"):
        crypto.open_sealed(sealed, aad=AAD)


def test_a_relabelled_master_key_version_fails(keyring):
    keyring(f"{master_key('v2')},{master_key('v1')}")
    sealed = crypto.seal(SECRET, aad=AAD)

    with pytest.raises(crypto.VaultError):
        crypto.open_sealed(replace(sealed, master_key_version="v1"), aad=AAD)


def test_a_missing_master_key_version_is_named(keyring):
    sealed = crypto.seal(SECRET, aad=AAD)
    keyring(master_key("v9"))

    with pytest.raises(crypto.UnknownMasterKey, match="v1 is not in VAULT_MASTER_KEYS"):
        crypto.open_sealed(sealed, aad=AAD)


def test_rewrap_moves_the_data_key_to_the_current_master_key_and_the_old_one_can_go(keyring):
    old = master_key("v1")
    keyring(old)
    sealed = crypto.seal(SECRET, aad=AAD)
    new = master_key("v2")
    keyring(f"{new},{old}")

    rewrapped = crypto.rewrap(sealed, aad=AAD)
    keyring(new)

    assert rewrapped.master_key_version == "v2"
    assert rewrapped.ciphertext == sealed.ciphertext, "the secret itself is not re-encrypted"
    assert crypto.open_sealed(rewrapped, aad=AAD) == SECRET
    with pytest.raises(crypto.UnknownMasterKey):
        crypto.open_sealed(sealed, aad=AAD)


def test_the_fingerprint_is_a_keyed_hash(settings):
    first = crypto.fingerprint(SECRET)
    settings.VAULT_FINGERPRINT_SECRET = "another-pepper-" + "p" * 40

    assert len(first) == 64 and SECRET not in first
    assert crypto.fingerprint(SECRET) != first
