"""/mcp answers every refusal in JSON: a JSON-RPC error object, whichever layer refuses.

Over a real socket (the live ASGI server), in both protocol eras the SDK serves. Each test walks
its cases against one server: starting one costs more than all the requests together.
"""

from __future__ import annotations

import json

import httpx2
import pytest

from apps.mcp_tools.tests.test_mcp_http import JSON_HEADERS, LEGACY_VERSION

pytestmark = pytest.mark.usefixtures("close_sync_thread_connections")

MODERN_VERSION = "2026-07-28"
INVALID_REQUEST = -32600
TOOLS_LIST = b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}'
BAD_IDS = ["1.5", "1.0", "NaN", "Infinity", "{}", '{"a": 1}', "[]", "[1]", "true", "false", "null"]


async def _post_raw(url: str, content: bytes, token: str, **headers: str) -> httpx2.Response:
    all_headers = {**JSON_HEADERS, "MCP-Protocol-Version": LEGACY_VERSION, "Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(timeout=30) as http:
        return await http.post(url, content=content, headers={**all_headers, **headers})


def _jsonrpc_error(response: httpx2.Response, status: int) -> dict:
    """The error object of a JSON-RPC refusal with this status (AssertionError if it is not one)."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert body["jsonrpc"] == "2.0" and body["id"] is None, body
    expected_code = -32603 if status >= 500 else INVALID_REQUEST
    assert body["error"]["code"] == expected_code and body["error"]["message"], body
    return body["error"]


async def test_a_request_whose_id_is_not_a_string_or_an_integer_is_an_invalid_request(asgi_server, alice_pat):
    for version in (LEGACY_VERSION, MODERN_VERSION):
        for bad_id in BAD_IDS:
            body = f'{{"jsonrpc": "2.0", "id": {bad_id}, "method": "tools/list"}}'.encode()

            response = await _post_raw(asgi_server.mcp_url, body, alice_pat, **{"MCP-Protocol-Version": version})

            error = _jsonrpc_error(response, 400)
            assert "id must be a string or an integer" in error["message"], (version, bad_id)


async def test_string_and_integer_ids_and_notifications_are_served_as_before(asgi_server, alice_pat):
    for good_id in ["7", '"seven"', "0", "-3"]:
        body = f'{{"jsonrpc": "2.0", "id": {good_id}, "method": "tools/list"}}'.encode()

        response = await _post_raw(asgi_server.mcp_url, body, alice_pat)

        assert response.status_code == 200, response.text
        assert response.json()["id"] == json.loads(good_id) and response.json()["result"]["tools"]
    notification = await _post_raw(
        asgi_server.mcp_url, b'{"jsonrpc": "2.0", "method": "notifications/initialized"}', alice_pat
    )
    assert notification.status_code == 202
    not_json = await _post_raw(asgi_server.mcp_url, b'{"jsonrpc": "2.0", "id": 1, "method": ', alice_pat)
    assert not_json.status_code == 400 and not_json.json()["error"]["code"] == -32700


async def test_a_body_that_is_not_one_json_rpc_object_is_an_invalid_request(asgi_server, alice_pat):
    for body in [b"[]", b"[" + TOOLS_LIST + b"]", b"3", b'"x"', b"null"]:
        response = await _post_raw(asgi_server.mcp_url, body, alice_pat)

        assert "one JSON-RPC request" in _jsonrpc_error(response, 400)["message"], body


async def test_the_transports_refusals_are_json_rpc_errors_not_plain_text(asgi_server, alice_pat):
    url = asgi_server.mcp_url
    content_type = await _post_raw(url, TOOLS_LIST, alice_pat, **{"Content-Type": "text/plain"})
    host = await _post_raw(url, TOOLS_LIST, alice_pat, Host="rebound.example")
    origin = await _post_raw(url, TOOLS_LIST, alice_pat, Origin="http://evil.example")
    path = await _post_raw(url + "/anything", TOOLS_LIST, alice_pat)
    accept = await _post_raw(url, TOOLS_LIST, alice_pat, Accept="text/html", **{"MCP-Protocol-Version": MODERN_VERSION})

    assert "Content-Type" in _jsonrpc_error(content_type, 400)["message"]
    assert "Host" in _jsonrpc_error(host, 421)["message"]
    assert "Origin" in _jsonrpc_error(origin, 403)["message"]
    assert "/mcp" in _jsonrpc_error(path, 404)["message"]
    assert _jsonrpc_error(accept, 406)["message"] == "Not Acceptable"
