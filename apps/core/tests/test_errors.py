"""Errors leave every door in the one shape: unmatched /api/ paths, CSRF, oversized bodies, outages."""

from __future__ import annotations

import json

import pytest
from django.db import OperationalError
from django.middleware.csrf import _get_failure_view
from django.test import Client, RequestFactory

from apps.core.http_errors import server_error

pytestmark = pytest.mark.django_db


def _error(response) -> dict:
    assert response["Content-Type"] == "application/json", response["Content-Type"]
    body = json.loads(response.content)
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
@pytest.mark.parametrize("path", ["/api/todos/0.5/", "/api/no-such-thing", "/api/auth/nothing/here"])
def test_an_unmatched_api_path_is_a_json_404_whatever_the_method(method, path, alice):
    client = Client(enforce_csrf_checks=True)
    # A signed-in browser session is what makes Django's CSRF check bite.
    client.force_login(alice)

    if method == "get":
        response = client.get(path)
    else:
        response = getattr(client, method)(path, data="{}", content_type="application/json")

    assert response.status_code == 404
    assert _error(response)["code"] == "not_found"


def test_a_csrf_failure_on_an_api_path_is_json_and_on_a_page_stays_html():
    failure_view = _get_failure_view()
    factory = RequestFactory()

    api = failure_view(factory.post("/api/todos/"), reason="CSRF cookie not set.")
    page = failure_view(factory.post("/admin/login/"), reason="CSRF cookie not set.")

    assert api.status_code == 403 and _error(api)["code"] == "csrf_failed"
    assert page.status_code == 403 and page["Content-Type"].startswith("text/html")


def test_a_body_over_django_s_limit_is_413_not_500(alice_client, settings):
    # The ASGI edge refuses it first in production; the test client goes around the edge.
    too_big = json.dumps({"title": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)})

    response = alice_client.post("/api/todos/", data=too_big, content_type="application/json")

    assert response.status_code == 413
    assert _error(response)["code"] == "request_too_large"


def test_django_and_the_edge_share_one_body_limit(settings):
    assert settings.DATA_UPLOAD_MAX_MEMORY_SIZE == settings.MAX_REQUEST_BODY_BYTES == settings.MCP_MAX_REQUEST_BYTES


def _handled_500(path: str, exc: Exception):
    request = RequestFactory().get(path)
    try:
        raise exc
    except Exception:
        # Django calls handler500 inside its own `except`, with the exception at hand.
        return server_error(request)


def test_a_database_error_outside_a_view_is_a_503_with_retry_after():
    api = _handled_500("/api/todos/", OperationalError("connection refused"))
    page = _handled_500("/admin/", OperationalError("connection refused"))

    assert api.status_code == 503 and api["Retry-After"] == "2"
    assert _error(api)["code"] == "service_unavailable"
    assert page.status_code == 503 and page["Retry-After"] == "2"


def test_any_other_error_outside_a_view_is_a_generic_500_with_a_request_id():
    response = _handled_500("/api/todos/", ValueError("SELECT secret_column FROM somewhere"))

    error = _error(response)
    assert response.status_code == 500 and error["code"] == "server_error"
    assert "secret_column" not in response.content.decode()
    assert error["details"]["request_id"] in error["message"]
