import datetime as dt

import pytest
from django.test import override_settings
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from conftest import PASSWORD

pytestmark = pytest.mark.django_db


def login(client: APIClient, username: str, password: str = PASSWORD):
    return client.post("/api/auth/token", {"username": username, "password": password}, format="json")


def test_it_issues_access_and_refresh_tokens_for_valid_credentials(alice, anon_client):
    response = login(anon_client, "alice")
    assert response.status_code == 200
    assert set(response.json()) == {"access", "refresh"}
    anon_client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    me = anon_client.get("/api/auth/me")
    assert me.status_code == 200
    assert me.json()["username"] == "alice"
    assert me.json()["roles"] == ["user"]


def test_access_tokens_are_short_lived(alice, anon_client):
    access = AccessToken(login(anon_client, "alice").json()["access"])
    lifetime = dt.datetime.fromtimestamp(access["exp"], tz=dt.UTC) - dt.datetime.fromtimestamp(access["iat"], tz=dt.UTC)
    assert lifetime <= dt.timedelta(minutes=15)


def test_it_refuses_a_wrong_password_with_the_error_shape(alice, anon_client):
    response = login(anon_client, "alice", "not-the-password")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "no_active_account"


def test_refresh_rotates_and_a_used_refresh_token_is_rejected(alice, anon_client):
    first = login(anon_client, "alice").json()
    rotated = anon_client.post("/api/auth/token/refresh", {"refresh": first["refresh"]}, format="json")
    assert rotated.status_code == 200
    assert rotated.json()["refresh"] != first["refresh"]

    again = anon_client.post("/api/auth/token/refresh", {"refresh": rotated.json()["refresh"]}, format="json")
    assert again.status_code == 200

    reused = anon_client.post("/api/auth/token/refresh", {"refresh": first["refresh"]}, format="json")
    assert reused.status_code == 401
    assert reused.json()["error"]["code"] == "token_not_valid"
    # Reuse is a theft signal: the whole session family goes (see test_refresh_tokens.py).


def test_logout_blacklists_the_refresh_token(alice, anon_client):
    tokens = login(anon_client, "alice").json()
    response = anon_client.post("/api/auth/logout", {"refresh": tokens["refresh"]}, format="json")
    assert response.status_code == 204
    refreshed = anon_client.post("/api/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert refreshed.status_code == 401
    twice = anon_client.post("/api/auth/logout", {"refresh": tokens["refresh"]}, format="json")
    assert twice.status_code == 400
    assert twice.json()["error"]["code"] == "token_not_valid"


def test_it_rejects_an_expired_access_token(alice, anon_client):
    token = AccessToken.for_user(alice)
    token.set_exp(lifetime=-dt.timedelta(seconds=1))
    anon_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = anon_client.get("/api/auth/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_not_valid"


def test_it_rejects_a_tampered_access_token(alice, bob, anon_client):
    token = str(AccessToken.for_user(alice))
    header, _alice_payload, signature = token.split(".")
    # Swap in a payload claiming to be bob, keeping alice's signature.
    bob_payload = str(AccessToken.for_user(bob)).split(".")[1]
    anon_client.credentials(HTTP_AUTHORIZATION=f"Bearer {header}.{bob_payload}.{signature}")
    assert anon_client.get("/api/auth/me").status_code == 401
    anon_client.credentials(HTTP_AUTHORIZATION=f"Bearer {token[:-2]}xx")
    assert anon_client.get("/api/auth/me").status_code == 401


def test_it_requires_authentication_on_me(anon_client):
    response = anon_client.get("/api/auth/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@override_settings(AXES_FAILURE_LIMIT=3)
def test_it_locks_out_after_repeated_failures_with_a_lockout_time(alice, anon_client):
    for _ in range(2):
        assert login(anon_client, "alice", "wrong-password").status_code == 401
    locked = login(anon_client, "alice", "wrong-password")
    assert locked.status_code == 429
    body = locked.json()["error"]
    assert body["code"] == "locked_out"
    assert int(locked.headers["Retry-After"]) == body["details"]["retry_after_seconds"] > 0
    # Even the right password is refused until the cool-off ends.
    assert login(anon_client, "alice").status_code == 429
    # Other accounts are unaffected.
    assert login(anon_client, "bob", "irrelevant").status_code == 401


@override_settings(AXES_FAILURE_LIMIT=2)
def test_the_admin_login_is_locked_out_too(olivia, client):
    for _ in range(2):
        client.post("/admin/login/?next=/admin/", {"username": "olivia", "password": "wrong-password"})
    response = client.post("/admin/login/?next=/admin/", {"username": "olivia", "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed login attempts" in response.content.decode()
    assert "Retry-After" in response.headers


def test_operator_can_log_in_to_the_admin(olivia, client):
    response = client.post("/admin/login/?next=/admin/", {"username": "olivia", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_an_ordinary_user_cannot_use_the_admin(alice, client):
    client.post("/admin/login/?next=/admin/", {"username": "alice", "password": PASSWORD})
    assert client.get("/admin/").status_code == 302


def test_register_creates_a_user_with_the_user_role(anon_client):
    response = anon_client.post(
        "/api/auth/register",
        {
            "username": "dave",
            "password": "a-strong-passphrase-1",
            "email": "dave@example.test",
            "timezone": "Europe/Berlin",
        },
        format="json",
    )
    assert response.status_code == 201
    assert response.json()["roles"] == ["user"]
    assert response.json()["timezone"] == "Europe/Berlin"
    assert "password" not in response.json()
    assert login(anon_client, "dave", "a-strong-passphrase-1").status_code == 200


def test_register_refuses_weak_passwords_taken_names_and_bad_time_zones(alice, anon_client):
    weak = anon_client.post("/api/auth/register", {"username": "erin", "password": "123"}, format="json")
    assert weak.status_code == 400
    assert "password" in weak.json()["error"]["details"]
    taken = anon_client.post(
        "/api/auth/register", {"username": "ALICE", "password": "a-strong-passphrase-1"}, format="json"
    )
    assert taken.status_code == 409
    zone = anon_client.post(
        "/api/auth/register",
        {"username": "erin", "password": "a-strong-passphrase-1", "timezone": "Mars/Olympus"},
        format="json",
    )
    assert zone.status_code == 400
    assert "timezone" in zone.json()["error"]["details"]


@override_settings(REGISTRATION_OPEN=False)
def test_register_can_be_switched_off(anon_client):
    response = anon_client.post(
        "/api/auth/register", {"username": "frank", "password": "a-strong-passphrase-1"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "registration_closed"


def test_me_updates_the_time_zone_and_refuses_read_only_fields(alice_client):
    response = alice_client.patch("/api/auth/me", {"timezone": "America/New_York"}, format="json")
    assert response.status_code == 200
    assert response.json()["timezone"] == "America/New_York"
    refused = alice_client.patch("/api/auth/me", {"is_staff": True}, format="json")
    assert refused.status_code == 400
    assert refused.json()["error"]["details"] == {"is_staff": ["Unknown field."]}


def _register(client: APIClient, username: str, address: str = "198.51.100.5"):
    return client.post(
        "/api/auth/register",
        {"username": username, "password": "a-strong-passphrase-1"},
        format="json",
        REMOTE_ADDR=address,
    )


@override_settings(REGISTRATION_RATE_PER_ADDRESS="3/hour", REGISTRATION_RATE_GLOBAL="100/hour")
def test_register_is_throttled_per_address(anon_client):
    statuses = [_register(anon_client, f"user{number}").status_code for number in range(3)]
    refused = _register(anon_client, "user9")
    assert statuses == [201, 201, 201]
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert int(refused["Retry-After"]) > 0
    # Forwarded-For is no way around it, and another address still may sign up.
    assert (
        anon_client.post(
            "/api/auth/register",
            {"username": "user10", "password": "a-strong-passphrase-1"},
            format="json",
            REMOTE_ADDR="198.51.100.5",
            HTTP_X_FORWARDED_FOR="203.0.113.1",
        ).status_code
        == 429
    )
    assert _register(anon_client, "user11", address="203.0.113.2").status_code == 201


@override_settings(REGISTRATION_RATE_PER_ADDRESS="100/hour", REGISTRATION_RATE_GLOBAL="4/hour")
def test_register_is_throttled_globally(anon_client):
    statuses = [
        _register(anon_client, f"user{number}", address=f"203.0.113.{number}").status_code for number in range(4)
    ]
    assert statuses == [201] * 4
    assert _register(anon_client, "user99", address="192.0.2.1").status_code == 429


@pytest.mark.own_environment
def test_registration_is_closed_by_default_in_production_and_open_in_development(tmp_path):
    from tests.startup import start_settings

    # The settings alone decide it, so the probe loads them without setting up the apps (a tenth of the time).
    show = "from django.conf import settings; print(settings.REGISTRATION_OPEN)"
    assert start_settings(tmp_path, code=show).stdout.strip() == "False"
    assert start_settings(tmp_path, code=show, REGISTRATION_OPEN="true").stdout.strip() == "True"
    assert start_settings(tmp_path, code=show, production=False, APP_ENV="development").stdout.strip() == "True"
