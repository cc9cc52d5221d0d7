"""Failed bearer tokens on /mcp (issue 7.9): the same per-address threshold and aggregate audit as REST."""

from __future__ import annotations

import httpx2
import pytest
from asgiref.sync import sync_to_async
from django.test import override_settings

from apps.mcp_tools.tests.conftest import pat_for

pytestmark = pytest.mark.usefixtures("close_sync_thread_connections")

HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
LIST_TOOLS = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}


@sync_to_async
def _audit_actions() -> list[str]:
    from apps.audit.models import AuditEvent

    return sorted(
        AuditEvent.objects.filter(action__startswith="access_token.authentication").values_list("action", flat=True)
    )


@override_settings(BEARER_FAILURE_LIMIT="8 per 5 minutes")
async def test_mcp_refuses_repeated_bad_tokens_with_429_and_audits_them_once(asgi_server, alice):
    good = await sync_to_async(pat_for)(alice)
    async with httpx2.AsyncClient(timeout=30) as http:

        async def call(token: str) -> httpx2.Response:
            return await http.post(
                asgi_server.mcp_url, json=LIST_TOOLS, headers={**HEADERS, "Authorization": f"Bearer {token}"}
            )

        statuses = [(await call(f"gw_pat_{number:012x}_guess")).status_code for number in range(8)]
        throttled = await call("not-a-token-at-all")
        many = [(await call(f"eyJ.guess.{number}")).status_code for number in range(40)]
        still_good = await call(good)

    assert statuses == [401] * 8
    assert throttled.status_code == 429
    assert throttled.json()["error"]["code"] == "too_many_failed_attempts"
    assert int(throttled.headers["retry-after"]) > 0
    assert set(many) == {429}
    assert still_good.status_code == 200
    assert await _audit_actions() == ["access_token.authentication_failed", "access_token.authentication_throttled"]
