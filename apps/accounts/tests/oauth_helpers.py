"""Driving the OAuth authorization server as a client would: register, authorize (sign-in + consent), token."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

from django.conf import settings
from django.test import Client

REDIRECT_URI = "http://127.0.0.1:33418/callback"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def register(client: Client, **metadata: object) -> dict:
    body = {
        "client_name": "Test Connector",
        "redirect_uris": [REDIRECT_URI],
        "grant_types": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_method": "none",
        **metadata,
    }
    response = client.post("/register", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 201, response.content
    return response.json()


def authorize_params(client_id: str, challenge: str | None, **overrides: object) -> dict:
    params: dict = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "state": "state-123",
        "scope": "todos:read todos:write",
        "code_challenge_method": "S256",
        "resource": settings.MCP_RESOURCE_URL,
    }
    if challenge is not None:
        params["code_challenge"] = challenge
    params.update(overrides)
    return {key: value for key, value in params.items() if value is not None}


def authorize_url(params: dict) -> str:
    return "/authorize?" + urlencode(params, doseq=True)


def consent_post(client: Client, page, *, allow: bool = True):
    """Answer a rendered consent page with its own hidden fields, as the browser form would."""
    form = page.context["form"]
    data = {name: value for name, value in form.initial.items() if value is not None}
    if allow:
        data["allow"] = "1"
    return client.post("/authorize", data)


def redirect_params(response) -> dict[str, str]:
    assert response.status_code == 302, response.content
    location = response["Location"]
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def code_for(client: Client, client_id: str, challenge: str, **overrides: object) -> dict[str, str]:
    """A signed-in user allows the client; the redirect's parameters (code, state, iss)."""
    page = client.get(authorize_url(authorize_params(client_id, challenge, **overrides)))
    if page.status_code == 200:
        return redirect_params(consent_post(client, page))
    return redirect_params(page)


def token(client: Client, **data: str):
    data = {"resource": settings.MCP_RESOURCE_URL, **data}
    return client.post("/token", data)


def allowed_code(
    client: Client, user_client: Client, *, scope: str = "todos:read todos:write"
) -> tuple[dict, dict[str, str]]:
    """Register a client and let the signed-in user allow it: (registration, the code exchange's fields)."""
    registration = register(client)
    verifier, challenge = pkce_pair()
    params = code_for(user_client, registration["client_id"], challenge, scope=scope)
    return registration, {
        "grant_type": "authorization_code",
        "code": params["code"],
        "redirect_uri": REDIRECT_URI,
        "client_id": registration["client_id"],
        "code_verifier": verifier,
    }


def tokens_for(client: Client, user_client: Client, *, scope: str = "todos:read todos:write") -> tuple[dict, dict]:
    """Register, allow, exchange: (registration, token response)."""
    registration, exchange = allowed_code(client, user_client, scope=scope)
    response = token(client, **exchange)
    assert response.status_code == 200, response.content
    return registration, response.json()
