"""A real browser (Debian's chromium) through the OAuth sign-in a remote connector starts: the product's
sign-in page, the consent page (checked with axe-core, screenshots kept), Allow back to the client with a
code and `iss`, Deny with access_denied, then Connected apps and Disconnect."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx2
import pytest

from apps.accounts.tests.oauth_helpers import REDIRECT_URI, pkce_pair
from apps.web.tests.browser import axe_violations, screenshot
from conftest import PASSWORD

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


def _authorize_path(client_id: str, base: str, scope: str) -> str:
    _verifier, challenge = pkce_pair()
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
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
    callbacks: list[str] = []

    async def client_callback(route) -> None:
        callbacks.append(route.request.url)
        await route.fulfill(status=200, content_type="text/html", body="<title>Connector</title><h1>Connected</h1>")

    await page.route(re.compile(r"^http://127\.0\.0\.1:33418/.*"), client_callback)

    # The connector opens the browser: the product's own sign-in page comes first.
    await page.goto(_authorize_path(client_id, base, "todos:read todos:write"))
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
    assert REDIRECT_URI in await page.locator(".redirect-target").inner_text()
    scopes = await page.locator(".scopes-new li").all_inner_texts()
    assert any("Read your todos" in text for text in scopes) and any("todos:write" in text for text in scopes)
    await screenshot(page, "oauth-02-consent")
    assert await axe_violations(page, base) == []
    headers = await (await page.request.get(page.url)).all_headers()
    assert headers["x-frame-options"] == "DENY"

    async with page.expect_request(re.compile(r"^http://127\.0\.0\.1:33418/.*")):
        await page.get_by_role("button", name="Allow").click()
    allowed = parse_qs(urlsplit(callbacks[-1]).query)
    assert allowed["code"] and allowed["state"] == ["browser-state"] and allowed["iss"] == [base]

    # Asking for one more scope asks for that one only; Deny answers access_denied.
    await page.goto(_authorize_path(client_id, base, "todos:read todos:write ai:invoke"))
    assert await page.locator(".scopes-new li").count() == 1
    assert await page.locator(".scopes-kept li").count() == 2
    await screenshot(page, "oauth-03-consent-new-scope")
    async with page.expect_request(re.compile(r"^http://127\.0\.0\.1:33418/.*")):
        await page.get_by_role("button", name="Deny").click()
    assert parse_qs(urlsplit(callbacks[-1]).query)["error"] == ["access_denied"]

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
