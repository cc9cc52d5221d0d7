import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.keys import crypto
from apps.keys.tests.conftest import master_key


@pytest.fixture(autouse=True)
def _keyring():
    from django.test import override_settings

    with override_settings(VAULT_MASTER_KEYS=master_key("v1")):
        yield


owners = st.integers(min_value=1, max_value=2**40)
plaintexts = st.text(min_size=1, max_size=600)


@settings(max_examples=200, deadline=None)
@given(secret=plaintexts, owner_id=owners, key_id=owners)
def test_any_secret_round_trips(secret, owner_id, key_id):
    aad = crypto.associated_data(owner_id=owner_id, provider="openai", key_id=key_id)

    assert crypto.open_sealed(crypto.seal(secret, aad=aad), aad=aad) == secret


@settings(max_examples=200, deadline=None)
@given(
    secret=plaintexts,
    part=st.sampled_from(["nonce", "ciphertext", "wrapped_data_key", "data_key_nonce"]),
    data=st.data(),
)
def test_any_flipped_bit_is_detected(secret, part, data):
    from dataclasses import replace

    aad = crypto.associated_data(owner_id=1, provider="openai", key_id=1)
    sealed = crypto.seal(secret, aad=aad)
    damaged = bytearray(getattr(sealed, part))
    index = data.draw(st.integers(min_value=0, max_value=len(damaged) - 1))
    damaged[index] ^= 1 << data.draw(st.integers(min_value=0, max_value=7))

    with pytest.raises(crypto.VaultError):
        crypto.open_sealed(replace(sealed, **{part: bytes(damaged)}), aad=aad)
