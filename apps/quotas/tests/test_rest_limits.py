"""The caller's rate across all doors on the REST resource API, the address's for anonymous requests."""

from __future__ import annotations

import pytest
from django.test import override_settings

from apps.quotas.models import RoleRateLimit, UserRateLimit
from conftest import PASSWORD


@pytest.fixture
def tight(settings):
    settings.QUOTA_USER_RATE = "3/hour"
    settings.QUOTA_USER_BURST = 3


def test_every_rest_response_carries_the_rate_limit_headers(alice_client, tight):
    response = alice_client.get("/api/todos/")
    assert response.status_code == 200
    assert response["RateLimit-Limit"] == "3"
    assert response["RateLimit-Remaining"] == "2"
    assert 1190 <= int(response["RateLimit-Reset"]) <= 1200
    assert response["RateLimit-Policy"] == '3;w=3600;burst=3;name="user"'


def test_past_the_burst_it_is_429_naming_the_limit(alice_client, tight):
    for remaining in (2, 1, 0):
        assert alice_client.get("/api/todos/")["RateLimit-Remaining"] == str(remaining)
    refused = alice_client.get("/api/todos/")
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "rate_limited"
    assert "user limit is 3 per hour" in error["message"]
    assert error["details"]["limit"] == "user"
    assert error["details"]["retry_after"] == int(refused["Retry-After"])
    assert 1190 <= int(refused["Retry-After"]) <= 1200
    assert refused["RateLimit-Remaining"] == "0"


def test_the_limit_is_per_user_and_counts_writes_and_reads_alike(alice_client, bob_client, tight):
    alice_client.post("/api/todos/", {"title": "a"}, format="json")
    alice_client.get("/api/todos/")
    alice_client.get("/api/api-keys")
    assert alice_client.get("/api/todos/").status_code == 429
    assert bob_client.get("/api/todos/").status_code == 200


def test_a_role_default_applies_and_a_user_override_wins(alice, alice_client, bob_client, tight):
    RoleRateLimit.objects.create(role="user", rate="1/hour", burst=1)
    assert alice_client.get("/api/todos/").status_code == 200
    assert alice_client.get("/api/todos/").status_code == 429
    UserRateLimit.objects.create(user=alice, rate="100/hour", burst=5, reason="integration partner")
    response = alice_client.get("/api/todos/")
    assert response.status_code == 200
    assert response["RateLimit-Limit"] == "5"
    assert bob_client.get("/api/todos/").status_code == 200
    assert bob_client.get("/api/todos/").status_code == 429


@override_settings(QUOTA_ANON_RATE="2/hour", QUOTA_ANON_BURST=2)
def test_anonymous_endpoints_are_limited_per_address(alice, anon_client):
    for _ in range(2):
        response = anon_client.post("/api/auth/token", {"username": "alice", "password": "wrong"}, format="json")
        assert response.status_code == 401
        assert "RateLimit-Remaining" in response
    refused = anon_client.post("/api/auth/token", {"username": "alice", "password": PASSWORD}, format="json")
    assert refused.status_code == 429
    assert refused.json()["error"]["details"]["limit"] == "address"
    # Another address has its own counter.
    other = anon_client.post(
        "/api/auth/token", {"username": "alice", "password": PASSWORD}, format="json", REMOTE_ADDR="10.0.0.9"
    )
    assert other.status_code == 200


def test_the_limits_endpoint_names_each_limit_and_its_source(alice, alice_client, bob_client, tight):
    UserRateLimit.objects.create(user=alice, rate="600/hour", burst=9)
    response = alice_client.get("/api/quotas/limits")
    assert response.status_code == 200
    limits = {row["name"]: row for row in response.json()["limits"]}
    assert limits["user"]["rate"] == "600/3600s"
    assert limits["user"]["burst"] == 9
    assert limits["user"]["source"] == "override"
    assert limits["tool current_time"]["source"] == "setting MCP_RATE_LIMIT_DEFAULT"
    assert limits["provider"]["family"] == "provider"
    assert limits["user"]["when_redis_down"] == "local"
    assert {row["name"]: row for row in bob_client.get("/api/quotas/limits").json()["limits"]}["user"][
        "source"
    ] == "setting QUOTA_USER_RATE"


def test_the_limits_endpoint_needs_a_signed_in_caller(anon_client):
    assert anon_client.get("/api/quotas/limits").status_code == 401
