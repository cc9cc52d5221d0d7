"""The official MCP SDK OAuth client (mcp.client.auth) signs in against a live server, with its redirect
handler driving the real sign-in and consent forms, then lists and calls tools with the token it got:
once as a Client ID Metadata Document client, once with dynamic registration. Then a token for another
resource is refused, and Disconnect or "sign out everywhere" cuts the client off."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx2
import pytest
from asgiref.sync import sync_to_async
from mcp import Client
from mcp.client.auth import AuthorizationCodeResult, OAuthClientProvider, TokenStorage
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import OAuthClientInformationFull, OAuthClientMetadata, OAuthToken
from pydantic import AnyUrl

from apps.accounts.tests.cimd_server import CimdServer
from apps.accounts.tests.oauth_helpers import REDIRECT_URI, pkce_pair
from conftest import PASSWORD

pytestmark = pytest.mark.usefixtures("close_sync_thread_connections")


class MemoryStorage(TokenStorage):
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client_info: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client_info

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client_info = client_info


class FormInputs(HTMLParser):
    """The inputs of the form posting to `action` (hidden fields, csrf token, submit buttons)."""

    def __init__(self, action: str) -> None:
        super().__init__()
        self.action, self.inside, self.fields = action, False, {}

    def handle_starttag(self, tag: str, attrs: list) -> None:
        values = dict(attrs)
        if tag == "form":
            self.inside = (values.get("action") or "").startswith(self.action)
        elif tag == "input" and self.inside and values.get("name"):
            self.fields[values["name"]] = values.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False


def _form(html: str, action: str) -> dict[str, str]:
    parser = FormInputs(action)
    parser.feed(html)
    assert parser.fields, f"no form posting to {action}"
    return parser.fields


class Browser:
    """What the user does in the browser the client opened: sign in on the product's page, then Allow."""

    def __init__(self, base_url: str, username: str) -> None:
        self.base_url, self.username = base_url, username
        self.result: AuthorizationCodeResult | None = None
        self.consent_seen: str = ""

    async def redirect_handler(self, authorization_url: str) -> None:
        async with httpx2.AsyncClient(base_url=self.base_url, timeout=30, follow_redirects=False) as http:
            response = await http.get(authorization_url)
            assert response.status_code == 302 and "/accounts/login/" in response.headers["location"]
            login_url = urljoin(self.base_url, response.headers["location"])
            login_page = await http.get(login_url)
            fields = _form(login_page.text, "/accounts/login/")
            fields.update(username=self.username, password=PASSWORD)
            response = await http.post(login_url, data=fields, headers={"Referer": login_url})
            assert response.status_code == 302, response.text[:500]
            consent_url = urljoin(self.base_url, response.headers["location"])
            consent = await http.get(consent_url)
            assert consent.status_code == 200, consent.text[:500]
            self.consent_seen = consent.text
            fields = _form(consent.text, "/authorize")
            fields["allow"] = "1"
            response = await http.post("/authorize", data=fields, headers={"Referer": consent_url})
            assert response.status_code == 302, response.text[:500]
            location = response.headers["location"]
        assert location.startswith(REDIRECT_URI)
        params = {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}
        self.result = AuthorizationCodeResult(code=params["code"], state=params.get("state"), iss=params.get("iss"))

    async def callback_handler(self) -> AuthorizationCodeResult:
        assert self.result is not None
        return self.result


def _live_settings(settings, url: str) -> None:
    """The server's public URL is the live one (every metadata URL and the token audience derive from it)."""
    settings.PUBLIC_BASE_URL = url
    settings.MCP_RESOURCE_URL = f"{url}/mcp"
    settings.MCP_AUTHORIZATION_SERVERS = [url]
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "OIDC_ISS_ENDPOINT": url,
        "OAUTH2_PROTECTED_RESOURCE_IDENTIFIER": f"{url}/mcp",
        "OAUTH2_PROTECTED_RESOURCE_AUTHORIZATION_SERVERS": [url],
    }


def _provider(server_url: str, browser: Browser, storage: MemoryStorage, **kwargs) -> OAuthClientProvider:
    metadata = OAuthClientMetadata(
        client_name="SDK Connector",
        redirect_uris=[AnyUrl(REDIRECT_URI)],
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method="none",
    )
    return OAuthClientProvider(
        server_url=server_url,
        client_metadata=metadata,
        storage=storage,
        redirect_handler=browser.redirect_handler,
        callback_handler=browser.callback_handler,
        **kwargs,
    )


async def _use_tools(mcp_url: str, provider: OAuthClientProvider) -> None:
    async with (
        httpx2.AsyncClient(auth=provider, timeout=30) as http,
        Client(streamable_http_client(mcp_url, http_client=http), mode="legacy") as client,
    ):
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert {"create_todos", "list_todos"} <= names
        created = await client.call_tool("create_todos", {"items": [{"title": "Signed in with OAuth"}]})
        assert created.is_error is not True, created.content
        listed = await client.call_tool("list_todos", {})
        assert [todo["title"] for todo in listed.structured_content["todos"]] == ["Signed in with OAuth"]


@sync_to_async
def _recorded(alice) -> tuple[set, list]:
    from apps.audit.models import AuditEvent
    from apps.mcp_tools.models import ToolCall

    methods = set(ToolCall.objects.filter(user=alice).values_list("auth_method", flat=True))
    events = list(AuditEvent.objects.filter(action="tool.invoked", actor_id=alice.pk).values("actor_type", "data"))
    return methods, events


async def _refused(mcp_url: str, token: str) -> int:
    async with httpx2.AsyncClient(timeout=30) as http:
        response = await http.post(
            mcp_url,
            json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/json, text/event-stream",
                "MCP-Protocol-Version": "2025-11-25",
            },
        )
    return response.status_code


async def test_the_sdk_client_signs_in_by_dynamic_registration_and_calls_tools(asgi_server, settings, alice):
    _live_settings(settings, asgi_server.url)
    browser, storage = Browser(asgi_server.url, "alice"), MemoryStorage()

    await _use_tools(asgi_server.mcp_url, _provider(asgi_server.mcp_url, browser, storage))

    assert "SDK Connector" in browser.consent_seen and "registered dynamically" in browser.consent_seen
    assert storage.tokens is not None and storage.tokens.access_token.startswith("gw_oat_")
    methods, events = await _recorded(alice)
    assert methods == {"oauth"}
    assert {event["actor_type"] for event in events} == {"oauth"}
    assert {event["data"]["oauth_client"] for event in events} == {"SDK Connector"}

    # Disconnect on /settings/connections/ cuts the client off at once.
    from apps.accounts.models import OAuthConnection
    from apps.accounts.oauth.connections import connection_disconnect

    connection = await OAuthConnection.objects.aget(user=alice)
    await sync_to_async(connection_disconnect)(user=alice, connection_id=connection.pk)
    assert await _refused(asgi_server.mcp_url, storage.tokens.access_token) == 401


async def test_sign_out_everywhere_cuts_the_sdk_client_off_at_mcp_and_at_refresh(asgi_server, settings, alice, olivia):
    from apps.accounts.services import user_sign_out_everywhere

    _live_settings(settings, asgi_server.url)
    browser, storage = Browser(asgi_server.url, "alice"), MemoryStorage()
    await _use_tools(asgi_server.mcp_url, _provider(asgi_server.mcp_url, browser, storage))

    await sync_to_async(user_sign_out_everywhere)(user=alice, actor=olivia)

    assert await _refused(asgi_server.mcp_url, storage.tokens.access_token) == 401
    async with httpx2.AsyncClient(timeout=30) as http:
        refreshed = await http.post(
            f"{asgi_server.url}/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": storage.tokens.refresh_token,
                "client_id": storage.client_info.client_id,
                "resource": asgi_server.mcp_url,
            },
        )
    assert refreshed.status_code == 400 and refreshed.json()["error"] == "invalid_grant"


async def test_the_sdk_client_signs_in_with_a_client_id_metadata_document(asgi_server, settings, alice):
    _live_settings(settings, asgi_server.url)
    cimd = CimdServer()
    settings.OAUTH_CIMD_CA_FILE = str(cimd.ca_file)
    try:
        client_id = cimd.document("/sdk-client.json", redirect_uris=[REDIRECT_URI])
        browser, storage = Browser(asgi_server.url, "alice"), MemoryStorage()
        provider = _provider(asgi_server.mcp_url, browser, storage, client_metadata_url=client_id)

        await _use_tools(asgi_server.mcp_url, provider)
    finally:
        cimd.close()

    assert storage.client_info is not None and storage.client_info.client_id == client_id
    assert "Loopback Connector" in browser.consent_seen and "127.0.0.1" in browser.consent_seen
    methods, _events = await _recorded(alice)
    assert methods == {"oauth"}


async def test_a_token_for_another_resource_is_refused_live(asgi_server, settings, alice):
    from oauth2_provider.models import AccessToken

    _live_settings(settings, asgi_server.url)
    browser, storage = Browser(asgi_server.url, "alice"), MemoryStorage()
    await _use_tools(asgi_server.mcp_url, _provider(asgi_server.mcp_url, browser, storage))
    await AccessToken.objects.filter(user=alice).aupdate(resource=["https://elsewhere.example/mcp"])

    assert await _refused(asgi_server.mcp_url, storage.tokens.access_token) == 401


async def test_mcp_challenges_name_the_metadata_and_scopes_and_step_up_an_oauth_token(asgi_server, settings, alice):
    _live_settings(settings, asgi_server.url)
    async with httpx2.AsyncClient(timeout=30) as http:
        unauthenticated = await http.post(asgi_server.mcp_url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"})
        metadata = (await http.get(f"{asgi_server.url}/.well-known/oauth-protected-resource/mcp")).json()
    challenge = unauthenticated.headers["www-authenticate"]
    assert unauthenticated.status_code == 401
    assert f'resource_metadata="{asgi_server.url}/.well-known/oauth-protected-resource/mcp"' in challenge
    assert 'scope="ai:invoke profile:read todos:read todos:write"' in challenge
    assert metadata["resource"] == asgi_server.mcp_url
    assert metadata["authorization_servers"] == [asgi_server.url]

    # A read-only OAuth token asking for a write tool: 403 insufficient_scope with the scopes to ask for.
    # Signed in for todos:read only, by hand, through the same real pages.
    browser = Browser(asgi_server.url, "alice")
    async with httpx2.AsyncClient(timeout=30) as http:
        registration = (
            await http.post(
                f"{asgi_server.url}/register",
                json={"client_name": "Reader", "redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "none"},
            )
        ).json()
    verifier, challenge_value = pkce_pair()
    query = urlencode(
        {
            "response_type": "code",
            "client_id": registration["client_id"],
            "redirect_uri": REDIRECT_URI,
            "state": "s",
            "scope": "todos:read",
            "code_challenge": challenge_value,
            "code_challenge_method": "S256",
            "resource": asgi_server.mcp_url,
        }
    )
    await browser.redirect_handler(f"{asgi_server.url}/authorize?{query}")
    async with httpx2.AsyncClient(timeout=30) as http:
        tokens = (
            await http.post(
                f"{asgi_server.url}/token",
                data={
                    "grant_type": "authorization_code",
                    "code": browser.result.code,
                    "redirect_uri": REDIRECT_URI,
                    "client_id": registration["client_id"],
                    "code_verifier": verifier,
                    "resource": asgi_server.mcp_url,
                },
            )
        ).json()
        call = await http.post(
            asgi_server.mcp_url,
            content=json.dumps(
                {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "create_todos", "arguments": {}}}
            ),
            headers={
                "Authorization": f"Bearer {tokens['access_token']}",
                "Content-Type": "application/json",
                "Accept": "application/json, text/event-stream",
                "MCP-Protocol-Version": "2025-11-25",
            },
        )
    assert call.status_code == 403
    step_up = call.headers["www-authenticate"]
    assert 'error="insufficient_scope"' in step_up
    assert 'scope="todos:read todos:write"' in step_up
