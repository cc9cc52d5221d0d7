"""Login lockout (issue 7.2): X-Forwarded-For cannot reset it, and a username locks across addresses."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings
from rest_framework.test import APIClient

from conftest import PASSWORD

pytestmark = pytest.mark.django_db

TOKEN_URL = "/api/auth/token"
ADMIN_LOGIN = "/admin/login/?next=/admin/"


def _api_login(username: str, password: str, **meta: str):
    return APIClient().post(TOKEN_URL, {"username": username, "password": password}, format="json", **meta)


def _admin_login(username: str, password: str, **meta: str):
    return Client().post(ADMIN_LOGIN, {"username": username, "password": password}, **meta)


@pytest.mark.parametrize("login", [_api_login, _admin_login], ids=["api", "admin"])
def test_rotating_x_forwarded_for_does_not_reset_the_lockout(alice, olivia, login):
    username = "olivia" if login is _admin_login else "alice"
    for guess in range(40):
        login(username, f"wrong-{guess}", REMOTE_ADDR="198.51.100.10", HTTP_X_FORWARDED_FOR=f"203.0.113.{guess}")

    refused = login(username, PASSWORD, REMOTE_ADDR="198.51.100.10", HTTP_X_FORWARDED_FOR="203.0.113.250")

    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 0


def test_the_api_lockout_answers_in_the_error_shape(alice):
    for guess in range(5):
        _api_login("alice", f"wrong-{guess}", REMOTE_ADDR="198.51.100.10", HTTP_X_FORWARDED_FOR=f"203.0.113.{guess}")
    refused = _api_login("alice", PASSWORD, REMOTE_ADDR="198.51.100.10")
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "locked_out"


@override_settings(AXES_FAILURE_LIMIT=5, AXES_USERNAME_FAILURE_LIMIT=12)
@pytest.mark.parametrize("login", [_api_login, _admin_login], ids=["api", "admin"])
def test_a_username_locks_after_failures_spread_over_many_addresses(alice, olivia, login):
    username = "olivia" if login is _admin_login else "alice"
    # Credential stuffing: three guesses from each of four addresses, never five from one.
    statuses = [
        login(username, f"wrong-{guess}", REMOTE_ADDR=f"198.51.100.{address}").status_code
        for address in range(4)
        for guess in range(3)
    ]
    # No address reached its own limit; the twelfth guess overall is the one that locks the name.
    assert 429 not in statuses[:-1]
    assert statuses[-1] == 429

    from_a_fresh_address = login(username, PASSWORD, REMOTE_ADDR="192.0.2.77")

    assert from_a_fresh_address.status_code == 429


@override_settings(AXES_FAILURE_LIMIT=5, AXES_USERNAME_FAILURE_LIMIT=12)
def test_below_the_username_limit_the_owner_still_logs_in_from_elsewhere(alice):
    for address in range(3):
        for guess in range(3):
            _api_login("alice", f"wrong-{guess}", REMOTE_ADDR=f"198.51.100.{address}")
    assert _api_login("alice", PASSWORD, REMOTE_ADDR="192.0.2.77").status_code == 200
    # Other accounts never feel it.
    assert _api_login("bob", "irrelevant", REMOTE_ADDR="198.51.100.0").status_code == 401


@override_settings(TRUSTED_PROXY_COUNT=1)
def test_behind_one_trusted_proxy_clients_are_told_apart_by_the_address_it_appended(alice):
    # The proxy (198.51.100.10) appends the real peer; the client's own entry on the left is ignored.
    for guess in range(5):
        _api_login(
            "alice",
            f"wrong-{guess}",
            REMOTE_ADDR="198.51.100.10",
            HTTP_X_FORWARDED_FOR=f"10.9.9.{guess}, 203.0.113.66",
        )
    attacker = _api_login("alice", PASSWORD, REMOTE_ADDR="198.51.100.10", HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.66")
    owner = _api_login("alice", PASSWORD, REMOTE_ADDR="198.51.100.10", HTTP_X_FORWARDED_FOR="203.0.113.99")
    assert attacker.status_code == 429
    assert owner.status_code == 200


@override_settings(AXES_FAILURE_LIMIT=5, AXES_USERNAME_FAILURE_LIMIT=8)
def test_the_owners_login_does_not_reset_failures_from_other_addresses(alice):
    for address in range(2):
        for guess in range(3):
            _api_login("alice", f"wrong-{guess}", REMOTE_ADDR=f"198.51.100.{address}")
    assert _api_login("alice", PASSWORD, REMOTE_ADDR="192.0.2.77").status_code == 200
    for guess in range(2):
        _api_login("alice", f"again-{guess}", REMOTE_ADDR="198.51.100.2")
    assert _api_login("alice", PASSWORD, REMOTE_ADDR="192.0.2.77").status_code == 429
