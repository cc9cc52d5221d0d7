import base64
import os

import pytest

from apps.keys import services
from apps.providers.tests.conftest import fake_provider  # noqa: F401 - shared fixture
from apps.providers.tests.keys import anthropic_key, openai_key


def master_key(version: str) -> str:
    return f"{version}:{base64.b64encode(os.urandom(32)).decode()}"


@pytest.fixture
def keyring(settings):
    """A fresh single-version keyring (v1) for the test; returns a function to change it."""
    settings.VAULT_MASTER_KEYS = master_key("v1")

    def set_keyring(value: str) -> None:
        settings.VAULT_MASTER_KEYS = value

    return set_keyring


@pytest.fixture
def store_key(keyring):
    """store_key(owner, provider="openai", **kwargs) -> (ProviderKey, plaintext)."""

    def store(owner, provider: str = "openai", api_key: str | None = None, **kwargs):
        if api_key is None:
            api_key = {"openai": openai_key, "anthropic": anthropic_key}[provider]()
        key, _ = services.provider_key_create(actor=owner, owner=owner, provider=provider, api_key=api_key, **kwargs)
        return key, api_key

    return store
