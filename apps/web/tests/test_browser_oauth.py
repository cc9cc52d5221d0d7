"""A real browser (Debian's chromium) through the OAuth sign-in a remote connector starts: the product's
sign-in page, the consent page (checked with axe-core, screenshots kept), Allow back to the client with a
code and `iss`, Deny with access_denied, then Connected apps and Disconnect."""

from __future__ import annotations

import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2
import pytest

from apps.accounts.tests.oauth_helpers import REDIRECT_URI, pkce_pair
from apps.web.tests.browser import axe_violations, screenshot
from conftest import PASSWORD

CALLBACK = re.compile(r"^http://127\.0\.0\.1:\d+/callback")
pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.usefixtures("close_sync_thread_connections"),
]


def _live(settings, url: str) -> None:
    settings.PUBLIC_BASE_URL = url
    settings.MCP_RESOURCE_URL = f"{url}/mcp"
    settings.MCP_AUTHORIZATION_SERVERS = [url]
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OIDC_ISS_ENDPOINT": url}


async def _register(base: str) -> str:
    async with httpx2.AsyncClient(timeout=30) as http:
        response = await http.post(
            f"{base}/register",
            json={
                "client_name": "Browser Connector",
                "redirect_uris": [REDIRECT_URI],
                "token_endpoint_auth_method": "none",
            },
        )
    assert response.status_code == 201
    return response.json()["client_id"]


def _callback_listener(callbacks: list[str]) -> ThreadingHTTPServer:
    class Callback(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            callbacks.append(f"http://127.0.0.1:{self.server.server_address[1]}{self.path}")
            body = b"<!doctype html><title>Connector</title><h1>Connected</h1>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Callback)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _authorize_path(client_id: str, base: str, scope: str, redirect_uri: str) -> str:
    _verifier, challenge = pkce_pair()
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect_uri,
        "state": "browser-state",
        "scope": scope,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "resource": f"{base}/mcp",
    }
    return "/authorize?" + urlencode(query)


async def test_a_user_signs_in_allows_denies_and_disconnects_a_connector(chromium, asgi_server, settings, alice):
    base = asgi_server.url
    _live(settings, base)
    client_id = await _register(base)
    context = await chromium.new_context(base_url=base)
    page = await context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: "Content Security Policy" in message.text and problems.append(message.text))
    # The connector's loopback listener (RFC 8252: any port of the registered loopback redirect URI).
    callbacks: list[str] = []
    listener = _callback_listener(callbacks)
    callback_uri = f"http://127.0.0.1:{listener.server_address[1]}/callback"

    # The connector opens the browser: the product's own sign-in page comes first.
    await page.goto(_authorize_path(client_id, base, "todos:read todos:write", callback_uri))
    assert "/accounts/login/" in page.url
    await screenshot(page, "oauth-01-sign-in")
    await page.get_by_label("Username").fill("alice")
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    async with page.expect_navigation():
        await page.get_by_role("button", name="Sign in").click()

    # The consent page: who asks, from where, back to where, what in plain words.
    assert "/authorize" in page.url
    assert await page.locator(".client-name").inner_text() == "Browser Connector"
    assert await page.locator(".client-host").inner_text() == "registered dynamically"
    assert callback_uri in await page.locator(".redirect-target").inner_text()
    scopes = await page.locator(".scopes-new li").all_inner_texts()
    assert any("Read your todos" in text for text in scopes) and any("todos:write" in text for text in scopes)
    await screenshot(page, "oauth-02-consent")
    assert await axe_violations(page, base) == []
    headers = (await page.request.get(page.url)).headers
    assert headers["x-frame-options"] == "DENY"

    async with page.expect_navigation(url=CALLBACK):
        await page.get_by_role("button", name="Allow").click()
    assert callbacks[0] == page.url
    allowed = parse_qs(urlsplit(page.url).query)
    assert allowed["code"] and allowed["state"] == ["browser-state"] and allowed["iss"] == [base]

    # Asking for one more scope asks for that one only; Deny answers access_denied.
    await page.goto(_authorize_path(client_id, base, "todos:read todos:write ai:invoke", callback_uri))
    assert await page.locator(".scopes-new li").count() == 1
    assert await page.locator(".scopes-kept li").count() == 2
    await screenshot(page, "oauth-03-consent-new-scope")
    async with page.expect_navigation(url=CALLBACK):
        await page.get_by_role("button", name="Deny").click()
    assert parse_qs(urlsplit(page.url).query)["error"] == ["access_denied"]

    # Signed out, the same request again: sign in, and the remembered consent sends the code straight back.
    await context.clear_cookies()
    await page.goto(_authorize_path(client_id, base, "todos:read", callback_uri))
    await page.get_by_label("Username").fill("alice")
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    async with page.expect_navigation(url=CALLBACK):
        await page.get_by_role("button", name="Sign in").click()
    assert parse_qs(urlsplit(page.url).query)["code"]

    # Connected apps: the connector, and Disconnect.
    await page.goto("/settings/connections/")
    assert "Browser Connector" in await page.locator("table.connections").inner_text()
    await screenshot(page, "oauth-04-connected-apps")
    assert await axe_violations(page, base) == []
    async with page.expect_navigation():
        await page.get_by_role("button", name="Disconnect").click()
    assert await page.locator("table.connections").count() == 0
    await screenshot(page, "oauth-05-disconnected")
    assert problems == []
    await context.close()
    listener.shutdown()
    listener.server_close()
