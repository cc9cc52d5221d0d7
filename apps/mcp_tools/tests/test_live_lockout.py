"""Login lockout through a real socket, as deployed (issue 7.2): X-Forwarded-For cannot reset it."""

from __future__ import annotations

import httpx2
import pytest

from conftest import PASSWORD

pytestmark = pytest.mark.usefixtures("close_sync_thread_connections")


async def test_forty_guesses_with_rotating_forwarded_for_then_the_right_password_is_refused(asgi_server, alice):
    url = f"{asgi_server.url}/api/auth/token"
    async with httpx2.AsyncClient(timeout=30) as http:
        for guess in range(40):
            await http.post(
                url,
                json={"username": "alice", "password": f"wrong-{guess}"},
                headers={"X-Forwarded-For": f"203.0.113.{guess}"},
            )
        refused = await http.post(
            url, json={"username": "alice", "password": PASSWORD}, headers={"X-Forwarded-For": "198.51.100.200"}
        )

    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "locked_out"
    assert int(refused.headers["retry-after"]) > 0
