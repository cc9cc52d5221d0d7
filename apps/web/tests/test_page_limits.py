"""Pages count against the same per-user rate as every other door, with the same headers and refusals."""

from __future__ import annotations

import pytest
from django.test import Client

from apps.accounts.principal import principal_for_user
from apps.mcp_tools.pipeline import tool_invoke

pytestmark = pytest.mark.django_db


def test_pages_share_the_users_bucket_with_rest_and_tools_and_refuse_with_429(alice, alice_client, settings):
    settings.QUOTA_USER_RATE = "4/hour"
    settings.QUOTA_USER_BURST = 4
    browser = Client()
    browser.force_login(alice)
    assert browser.get("/settings/keys/")["RateLimit-Remaining"] == "3"
    assert alice_client.get("/api/todos/")["RateLimit-Remaining"] == "2"
    assert tool_invoke(
        principal=principal_for_user(alice), tool_name="whoami", arguments={}, transport="mcp-stdio"
    ).success
    assert browser.get("/settings/usage/")["RateLimit-Remaining"] == "0"
    refused = browser.get("/settings/")
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    page = refused.content.decode()
    assert "Too many requests" in page and "the user limit is 4 per" in page
    assert alice_client.get("/api/todos/").status_code == 429


def test_signed_out_pages_are_limited_per_address(settings):
    settings.QUOTA_ANON_RATE = "2/hour"
    settings.QUOTA_ANON_BURST = 2
    visitor = Client(REMOTE_ADDR="203.0.113.9")
    assert [visitor.get("/accounts/login/").status_code for _ in range(3)] == [200, 200, 429]
    # Another address has its own bucket.
    assert Client(REMOTE_ADDR="203.0.113.10").get("/accounts/login/").status_code == 200
