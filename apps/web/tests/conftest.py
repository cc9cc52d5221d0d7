"""Fixtures for the page tests: signed-in browsers (Django's test client) for the shared personas."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.keys.tests.conftest import keyring, store_key  # noqa: F401 - shared fixtures
from apps.providers.tests.conftest import fake_provider  # noqa: F401 - shared fixture


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alice_browser(alice) -> Client:
    return signed_in(alice)


@pytest.fixture
def bob_browser(bob) -> Client:
    return signed_in(bob)
