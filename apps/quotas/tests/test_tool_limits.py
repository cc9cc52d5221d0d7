"""Tool calls: the caller's rate and the tool's, counted once by the pipeline for every door."""

from __future__ import annotations

import pytest

from apps.accounts.principal import principal_for_user
from apps.core.errors import RateLimited
from apps.mcp_tools.models import ToolCall
from apps.mcp_tools.pipeline import tool_invoke
from apps.mcp_tools.transport.server import call_result_from_invocation
from apps.quotas.models import UserRateLimit


def invoke(client, tool: str, parameters: dict | None = None):
    return client.post("/api/mcp/tools/invoke", {"tool_name": tool, "parameters": parameters or {}}, format="json")


def test_rest_invoke_is_counted_once_against_the_user_rate(alice, alice_client, settings):
    settings.MCP_RESULT_CACHE = False
    UserRateLimit.objects.create(user=alice, rate="5/hour", burst=5)
    first = invoke(alice_client, "current_time")
    assert first.status_code == 200
    policy = first["RateLimit-Policy"]
    assert 'name="user"' in policy and 'name="tool current_time"' in policy
    # Counted once (by the pipeline, not also by DRF): 5 - 1 left on the user's bucket.
    assert first["RateLimit-Remaining"] == "4"
    assert alice_client.get("/api/todos/")["RateLimit-Remaining"] == "3"


def test_the_tool_policy_rate_refuses_with_the_tool_named(alice, alice_client, settings):
    settings.MCP_RATE_LIMIT_DEFAULT = "2/hour"
    assert invoke(alice_client, "current_time").status_code == 200
    assert invoke(alice_client, "current_time").status_code == 200
    refused = invoke(alice_client, "current_time")
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["details"]["limit"] == "tool current_time"
    assert "tool current_time limit is 2 per hour" in error["message"]
    assert int(refused["Retry-After"]) > 1000
    assert refused["RateLimit-Remaining"] == "0"
    # A refusal by the tool's limit does not use up the user's: all limits count, or none.
    assert invoke(alice_client, "whoami").status_code == 200


def test_an_mcp_refusal_carries_the_limit_in_its_message_and_meta(alice, settings):
    settings.MCP_RATE_LIMIT_DEFAULT = "1/hour"
    principal = principal_for_user(alice, auth_method="pat")
    ok = tool_invoke(principal=principal, tool_name="current_time", arguments={}, transport="mcp")
    assert call_result_from_invocation(ok).meta["todo-gateway/ratelimit"]["remaining"] == 0
    refused = tool_invoke(principal=principal, tool_name="current_time", arguments={}, transport="mcp")
    assert isinstance(refused.error, RateLimited)
    result = call_result_from_invocation(refused)
    assert result.is_error
    text = result.content[0].text
    assert text.startswith("rate_limited: Too many requests: the tool current_time limit is 1 per hour")
    assert '"retry_after":' in text
    meta = result.meta["todo-gateway/ratelimit"]
    assert meta["name"] == "tool current_time"
    assert meta["remaining"] == 0 and meta["retry_after"] >= 3000
    assert {entry["limit"] for entry in meta["policies"]} == {"user", "tool current_time"}
    assert ToolCall.objects.filter(user=alice, error_code="rate_limited").count() == 1


def test_an_operator_acting_for_a_user_is_counted_as_the_operator(alice, olivia, settings):
    from apps.accounts.principal import principal_acting_for

    UserRateLimit.objects.create(user=olivia, rate="1/hour", burst=1)
    acting = principal_acting_for(operator=principal_for_user(olivia, auth_method="jwt"), user=alice)
    assert tool_invoke(principal=acting, tool_name="whoami", arguments={}, transport="rest").success
    refused = tool_invoke(principal=acting, tool_name="current_time", arguments={}, transport="rest")
    assert refused.error.details["limit"] == "user"
    # Alice's own rate is untouched.
    own = tool_invoke(principal=principal_for_user(alice), tool_name="current_time", arguments={}, transport="rest")
    assert own.success


@pytest.mark.parametrize("mode, status", [("local", 200), ("closed", 503)])
def test_rest_with_redis_down_follows_the_user_family_setting(alice_client, settings, mode, status):
    settings.MCP_RATE_LIMIT_STORAGE_URL = "redis://127.0.0.1:1/0"
    settings.QUOTA_WHEN_REDIS_DOWN = {**settings.QUOTA_WHEN_REDIS_DOWN, "user": mode}
    response = alice_client.get("/api/todos/")
    assert response.status_code == status
    if status == 503:
        assert response.json()["error"]["code"] == "rate_limiter_unavailable"
        assert response["Retry-After"] == "1"
    else:
        assert "RateLimit-Remaining" in response


def test_the_per_process_fallback_still_limits(alice_client, settings):
    settings.MCP_RATE_LIMIT_STORAGE_URL = "redis://127.0.0.1:1/0"
    settings.QUOTA_USER_RATE = "2/hour"
    settings.QUOTA_USER_BURST = 2
    assert [alice_client.get("/api/todos/").status_code for _ in range(3)] == [200, 200, 429]


def test_tool_calls_with_redis_down_can_fall_back_per_process(alice, alice_client, settings):
    settings.MCP_RATE_LIMIT_STORAGE_URL = "redis://127.0.0.1:1/0"
    settings.MCP_RATE_LIMIT_DEFAULT = "1/hour"
    assert invoke(alice_client, "current_time").status_code == 503
    settings.QUOTA_WHEN_REDIS_DOWN = {**settings.QUOTA_WHEN_REDIS_DOWN, "tool": "local"}
    assert invoke(alice_client, "current_time").status_code == 200
    assert invoke(alice_client, "current_time").status_code == 429


@pytest.mark.redis
def test_redis_back_after_an_outage_counts_in_redis_again(alice_client, settings):
    from apps.core import limiter

    settings.QUOTA_USER_RATE = "3/hour"
    settings.QUOTA_USER_BURST = 3
    settings.MCP_RATE_LIMIT_STORAGE_URL = "redis://127.0.0.1:1/0"
    assert alice_client.get("/api/todos/").status_code == 200
    settings.MCP_RATE_LIMIT_STORAGE_URL = settings.REDIS_URL
    limiter._redis_down_until = 0.0  # the retry pause would otherwise keep it local for a second
    assert alice_client.get("/api/todos/")["RateLimit-Remaining"] == "2"


def test_one_bucket_per_user_whatever_the_door(alice, alice_client, settings):
    settings.QUOTA_USER_RATE = "4/hour"
    settings.QUOTA_USER_BURST = 4
    assert alice_client.get("/api/todos/")["RateLimit-Remaining"] == "3"
    assert alice_client.get("/api/api-keys")["RateLimit-Remaining"] == "2"
    assert alice_client.get("/api/auth/me")["RateLimit-Remaining"] == "1"
    stdio = tool_invoke(principal=principal_for_user(alice), tool_name="whoami", arguments={}, transport="mcp-stdio")
    assert stdio.success and stdio.rate_limits.states[0].remaining == 0
    refused = alice_client.get("/api/todos/")
    assert refused.status_code == 429 and refused.json()["error"]["details"]["limit"] == "user"


def test_with_redis_gone_a_call_decides_from_the_policy_table_not_the_process_copy(alice, settings):
    from apps.mcp_tools.models import ToolPolicy

    principal = principal_for_user(alice)
    assert tool_invoke(principal=principal, tool_name="current_time", arguments={}, transport="rest").success
    # Turned off where no announcement reaches this process (a queryset update sends no signal), and
    # the limits' round trip that would have checked the copy's version cannot be made.
    ToolPolicy.objects.filter(tool_name="current_time").update(enabled=False)
    settings.MCP_RATE_LIMIT_STORAGE_URL = "redis://127.0.0.1:1/0"
    settings.QUOTA_WHEN_REDIS_DOWN = {**settings.QUOTA_WHEN_REDIS_DOWN, "user": "local", "tool": "local"}
    refused = tool_invoke(principal=principal, tool_name="current_time", arguments={}, transport="rest")
    assert refused.error is not None and refused.error.code == "tool_disabled"
