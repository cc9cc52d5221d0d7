"""Helpers for the pipeline, REST and tool tests (not collected: no test_ prefix)."""

from __future__ import annotations

from typing import Any

from rest_framework.test import APIClient

INVOKE_URL = "/api/mcp/tools/invoke"


def pat_client(user, *, scopes: list[str]) -> APIClient:
    from apps.accounts.services import pat_create

    _token, plaintext = pat_create(user=user, name="tests", scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    return client


def invoke(client: APIClient, tool_name: str, parameters: Any = None, **extra: Any):
    body: dict[str, Any] = {"tool_name": tool_name, **extra}
    if parameters is not None:
        body["parameters"] = parameters
    return client.post(INVOKE_URL, body, format="json")


def result_of(client: APIClient, tool_name: str, parameters: Any = None) -> dict[str, Any]:
    response = invoke(client, tool_name, parameters)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["success"] is True
    return body["result"]
