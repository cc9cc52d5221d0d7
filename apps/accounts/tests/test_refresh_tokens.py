"""Refresh tokens (issues 7.5, 7.12): one redemption each, reuse revokes the family, no 500s."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from django.db import connections
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from apps.accounts.models import RefreshTokenFamily
from apps.audit.models import AuditEvent
from conftest import PASSWORD

REFRESH_URL = "/api/auth/token/refresh"


def _login(username: str = "alice") -> dict:
    response = APIClient().post("/api/auth/token", {"username": username, "password": PASSWORD}, format="json")
    assert response.status_code == 200
    return response.json()


def _refresh(refresh: str):
    return APIClient().post(REFRESH_URL, {"refresh": refresh}, format="json")


def _me(access: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client.get("/api/auth/me").status_code


@pytest.mark.django_db(transaction=True)
def test_thirty_concurrent_refreshes_of_one_token_let_exactly_one_through(alice, patient_pool):
    refresh = _login()["refresh"]
    start = threading.Barrier(30)
    statuses: list[int] = []
    bodies: list[dict] = []
    lock = threading.Lock()

    def redeem() -> None:
        try:
            start.wait(timeout=30)
            response = _refresh(refresh)
            with lock:
                statuses.append(response.status_code)
                bodies.append(response.json())
        finally:
            connections.close_all()

    threads = [threading.Thread(target=redeem) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert Counter(statuses) == {200: 1, 401: 29}
    assert all(body["error"]["code"] == "token_not_valid" for body in bodies if "error" in body)
    # The other 29 presented a token that had just been rotated: one theft signal, one audit event.
    assert AuditEvent.objects.filter(action="refresh_token.reuse_detected").count() == 1
    assert RefreshTokenFamily.objects.get(user=alice).revoked_reason == "reuse_detected"


@pytest.mark.django_db
def test_reusing_a_rotated_refresh_token_revokes_the_whole_family_and_is_audited(alice):
    stolen = _login()
    other_device = _login()
    rotated = _refresh(stolen["refresh"]).json()
    assert _me(rotated["access"]) == 200

    reused = _refresh(stolen["refresh"])

    assert reused.status_code == 401
    assert reused.json()["error"]["code"] == "token_not_valid"
    # Every token descended from that login stops: the rotated refresh token and its access token.
    assert _refresh(rotated["refresh"]).status_code == 401
    assert _me(rotated["access"]) == 401
    event = AuditEvent.objects.get(action="refresh_token.reuse_detected")
    assert event.actor == alice and event.outcome == "denied"
    assert stolen["refresh"] not in str(event.data) and rotated["refresh"] not in str(event.data)
    # A separate login is a separate family and keeps working.
    assert _me(other_device["access"]) == 200
    assert _refresh(other_device["refresh"]).status_code == 200


@pytest.mark.django_db
def test_logout_ends_the_sessions_access_token_too(alice):
    tokens = _login()
    assert _me(tokens["access"]) == 200
    assert APIClient().post("/api/auth/logout", {"refresh": tokens["refresh"]}, format="json").status_code == 204
    assert _me(tokens["access"]) == 401
    assert _refresh(tokens["refresh"]).status_code == 401


@pytest.mark.django_db
def test_a_deleted_users_refresh_token_is_a_401_in_the_error_shape(alice):
    tokens = _login()
    alice.delete()

    refreshed = _refresh(tokens["refresh"])
    logout = APIClient().post("/api/auth/logout", {"refresh": tokens["refresh"]}, format="json")

    assert refreshed.status_code == 401
    assert refreshed.json()["error"]["code"] == "token_not_valid"
    assert logout.status_code == 400
    assert logout.json()["error"]["code"] == "token_not_valid"
    assert _me(tokens["access"]) == 401


@pytest.mark.django_db
def test_a_refresh_token_without_a_session_family_is_refused_not_a_500(alice):
    legacy = RefreshToken.for_user(alice)
    response = _refresh(str(legacy))
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "token_not_valid"
    assert _me(str(legacy.access_token)) == 401


@pytest.mark.django_db
def test_no_usable_refresh_token_is_stored(alice):
    tokens = _login()
    rotated = _refresh(tokens["refresh"]).json()
    stored = list(OutstandingToken.objects.values_list("token", flat=True))
    assert len(stored) == 2
    assert all(tokens["refresh"] not in text and rotated["refresh"] not in text for text in stored)


@pytest.mark.django_db
def test_flushing_expired_tokens_removes_families_whose_last_token_expired(alice):
    import datetime as dt

    from django.utils import timezone

    from apps.accounts.services import tokens_flush_expired

    old, live = _login(), _login()
    old_family, live_family = RefreshTokenFamily.objects.order_by("created_at")
    RefreshTokenFamily.objects.filter(pk=old_family.pk).update(created_at=timezone.now() - dt.timedelta(days=30))
    tokens_flush_expired()
    assert list(RefreshTokenFamily.objects.values_list("pk", flat=True)) == [live_family.pk]
    assert _refresh(live["refresh"]).status_code == 200
    assert _refresh(old["refresh"]).status_code == 401


@pytest.mark.django_db
def test_an_operator_revoking_a_refresh_token_ends_its_session_and_access_tokens(alice, olivia):
    from apps.accounts.tokens import jwt_session_revoke

    tokens = _login()
    jti = RefreshToken(tokens["refresh"], verify=False)["jti"]

    assert jwt_session_revoke(jti=jti, actor=olivia) is True

    assert _refresh(tokens["refresh"]).status_code == 401
    assert _me(tokens["access"]) == 401
    assert AuditEvent.objects.get(action="refresh_token.revoked").actor == olivia
    assert jwt_session_revoke(jti=jti, actor=olivia) is False


@pytest.mark.django_db
def test_a_refresh_token_blacklisted_directly_is_refused_with_its_session(alice):
    from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

    tokens = _login()
    jti = RefreshToken(tokens["refresh"], verify=False)["jti"]
    BlacklistedToken.objects.create(token=OutstandingToken.objects.get(jti=jti))
    assert _refresh(tokens["refresh"]).status_code == 401
    assert _me(tokens["access"]) == 401
