"""Client ID Metadata Documents: fetched through the egress guard, bounded, and every refusal audited."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from apps.accounts.tests.cimd_server import Answer, CimdServer
from apps.accounts.tests.oauth_helpers import (
    REDIRECT_URI,
    authorize_params,
    authorize_url,
    code_for,
    pkce_pair,
    token,
)
from apps.audit.models import AuditEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def cimd(settings):
    server = CimdServer()
    settings.OAUTH_CIMD_CA_FILE = str(server.ca_file)
    settings.OAUTH_CIMD_TIMEOUT_SECONDS = 1
    yield server
    server.close()


@pytest.fixture
def alice_browser(alice) -> Client:
    client = Client()
    client.force_login(alice)
    return client


def _refusals() -> list[str]:
    return [event.data["reason"] for event in AuditEvent.objects.filter(action="oauth.cimd_refused").order_by("id")]


def _refused_at_authorize(browser: Client, client_id: str) -> None:
    from oauth2_provider.models import Application

    _verifier, challenge = pkce_pair()
    response = browser.get(authorize_url(authorize_params(client_id, challenge)))
    assert response.status_code == 400
    assert "Location" not in response
    assert not Application.objects.filter(client_id=client_id).exists()


def test_a_cimd_client_signs_in_with_its_url_as_client_id(cimd, alice_browser):
    from oauth2_provider.models import Application

    client_id = cimd.document("/connector.json", redirect_uris=[REDIRECT_URI])
    verifier, challenge = pkce_pair()
    page = alice_browser.get(authorize_url(authorize_params(client_id, challenge)))
    assert page.status_code == 200
    assert page.context["client_host"] == "127.0.0.1"
    assert "Loopback Connector" in page.content.decode()

    params = code_for(alice_browser, client_id, challenge)
    response = token(
        Client(),
        grant_type="authorization_code",
        code=params["code"],
        redirect_uri=REDIRECT_URI,
        client_id=client_id,
        code_verifier=verifier,
    )
    assert response.status_code == 200
    application = Application.objects.get(client_id=client_id)
    assert application.registration_source == "cimd"


def test_a_redirect_uri_the_document_does_not_list_is_refused(cimd, alice_browser):
    client_id = cimd.document("/listed.json", redirect_uris=["http://127.0.0.1:9/other"])
    _verifier, challenge = pkce_pair()
    response = alice_browser.get(authorize_url(authorize_params(client_id, challenge)))
    assert response.status_code == 400
    assert "Location" not in response


def test_a_document_at_a_private_address_is_refused(cimd, alice_browser, settings):
    settings.PROVIDER_ALLOW_PRIVATE_NETWORKS = False
    client_id = cimd.document("/private.json", redirect_uris=[REDIRECT_URI])
    _refused_at_authorize(alice_browser, client_id)
    assert "private" in _refusals()[0]


def test_a_document_too_large_is_refused(cimd, alice_browser):
    client_id = cimd.document("/large.json", redirect_uris=[REDIRECT_URI], padding="x" * 6000)
    _refused_at_authorize(alice_browser, client_id)
    assert "larger than 5120 bytes" in _refusals()[0]


def test_a_document_too_slow_is_refused(cimd, alice_browser):
    client_id = cimd.document("/slow.json", redirect_uris=[REDIRECT_URI], padding="x" * 1000)
    cimd.answers["/slow.json"].drip_seconds = 0.2
    _refused_at_authorize(alice_browser, client_id)
    assert "took longer than 1 s" in _refusals()[0]


def test_a_document_with_another_client_id_is_refused(cimd, alice_browser):
    client_id = cimd.document("/mismatch.json", redirect_uris=[REDIRECT_URI], client_id="https://claude.ai/oauth.json")
    _refused_at_authorize(alice_browser, client_id)
    assert "client_id is not the URL" in _refusals()[0]


def test_a_document_served_through_a_redirect_is_refused(cimd, alice_browser):
    cimd.document("/target.json", redirect_uris=[REDIRECT_URI])
    client_id = cimd.url("/moved.json")
    cimd.answers["/moved.json"] = Answer(status=302, headers={"Location": cimd.url("/target.json")})
    _refused_at_authorize(alice_browser, client_id)
    assert "redirect" in _refusals()[0]


def test_a_document_with_an_unsafe_redirect_uri_is_refused(cimd, alice_browser):
    client_id = cimd.document("/unsafe.json", redirect_uris=["http://attacker.example/cb"])
    _refused_at_authorize(alice_browser, client_id)
    assert "loopback" in _refusals()[0]


def test_a_document_that_is_not_json_is_refused(cimd, alice_browser):
    client_id = cimd.url("/html.json")
    cimd.answers["/html.json"] = Answer(body=b"<html></html>", headers={"Content-Type": "text/html"})
    _refused_at_authorize(alice_browser, client_id)
    assert "not JSON" in _refusals()[0]


def test_the_document_is_cached_per_its_headers_at_most_a_day(cimd, alice_browser):
    import datetime as dt

    from django.utils import timezone
    from oauth2_provider.models import Application

    client_id = cimd.url("/cached.json")
    body = {"client_id": client_id, "client_name": "Cached", "redirect_uris": [REDIRECT_URI]}
    cimd.answers["/cached.json"] = Answer(
        body=json.dumps(body).encode(), headers={"Content-Type": "application/json", "Cache-Control": "max-age=999999"}
    )
    _verifier, challenge = pkce_pair()
    assert alice_browser.get(authorize_url(authorize_params(client_id, challenge))).status_code == 200
    expires = Application.objects.get(client_id=client_id).cimd_expires_at
    assert expires <= timezone.now() + dt.timedelta(hours=24, seconds=5)
    assert expires >= timezone.now() + dt.timedelta(hours=23)
