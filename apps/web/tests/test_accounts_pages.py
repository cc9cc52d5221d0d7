"""Sign-up, sign-in, sign-out, password change and reset through the pages."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from apps.accounts import pats
from apps.accounts.models import User
from apps.accounts.tokens import jwt_pair_issue
from apps.audit.models import AuditEvent
from conftest import PASSWORD

pytestmark = pytest.mark.django_db
NEW_PASSWORD = "another-horse-battery-7"


def _signup(client: Client, username: str, **extra) -> object:
    data = {"username": username, "password": "a-strong-passphrase-1", "email": "", "timezone": "Europe/Berlin"}
    return client.post("/accounts/signup/", {**data, **extra}, REMOTE_ADDR=extra.pop("address", "198.51.100.7"))


def test_sign_up_creates_an_account_with_the_user_role_and_signs_it_in(client):
    response = _signup(client, "erin")
    assert response.status_code == 302 and response["Location"] == "/settings/"
    erin = User.objects.get(username="erin")
    assert erin.roles == ["user"] and erin.timezone == "Europe/Berlin"
    assert "Welcome, erin" in client.get("/settings/").content.decode()


def test_sign_up_shows_the_services_refusals_next_to_their_fields(client, alice):
    taken = _signup(client, "ALICE")
    assert taken.status_code == 409 and "That username is taken." in taken.content.decode()
    weak = _signup(client, "frank", password="123")
    assert weak.status_code == 400 and "too short" in weak.content.decode()
    assert not User.objects.filter(username="frank").exists()


def test_sign_up_is_closed_when_registration_is_off(client, settings):
    settings.REGISTRATION_OPEN = False
    assert client.get("/accounts/signup/").status_code == 403
    assert _signup(client, "gina").status_code == 403
    assert not User.objects.filter(username="gina").exists()
    assert "/accounts/signup/" not in client.get("/accounts/login/").content.decode()


def test_sign_up_on_the_page_counts_against_the_same_limit_as_the_api(client, settings):
    settings.REGISTRATION_RATE_PER_ADDRESS = "2/hour"
    api = APIClient()
    body = {"username": "api1", "password": "a-strong-passphrase-1"}
    assert api.post("/api/auth/register", body, format="json", REMOTE_ADDR="198.51.100.7").status_code == 201
    assert _signup(client, "page1").status_code == 302
    refused = Client().post(
        "/accounts/signup/",
        {"username": "page2", "password": "a-strong-passphrase-1", "timezone": "UTC"},
        REMOTE_ADDR="198.51.100.7",
    )
    assert refused.status_code == 429 and "Retry-After" in refused
    assert "Too many sign-ups from this address" in refused.content.decode()


def test_sign_in_and_sign_out(client, alice):
    wrong = client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    assert wrong.status_code == 200 and "correct username and password" in wrong.content.decode()
    response = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD, "next": "/settings/keys/"})
    assert response.status_code == 302 and response["Location"] == "/settings/keys/"
    assert client.get("/settings/keys/").status_code == 200
    assert client.get("/accounts/logout/").status_code == 405  # a link cannot sign anyone out
    assert client.post("/accounts/logout/").status_code == 200
    assert client.get("/settings/keys/").status_code == 302


def test_sign_in_is_locked_after_repeated_failures_as_on_the_api(client, alice, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(3):
        client.post("/accounts/login/", {"username": "alice", "password": "nope"})
    locked = client.post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    assert locked.status_code == 429 and "Too many failed login attempts" in locked.content.decode()


def test_password_change_ends_other_sessions_and_logins_but_keeps_this_one(alice):
    browser = Client()
    browser.force_login(alice)
    other_browser = Client()
    other_browser.force_login(alice)
    jwt = str(jwt_pair_issue(user=alice).access)
    token, _ = pats.pat_create(user=alice, name="desktop", scopes=["todos:read"])

    wrong = browser.post("/accounts/password/", {"old_password": "nope", "new_password": NEW_PASSWORD})
    assert wrong.status_code == 400 and "The current password is wrong." in wrong.content.decode()

    changed = browser.post("/accounts/password/", {"old_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert changed.status_code == 200
    assert "desktop" in changed.content.decode() and token.prefix in changed.content.decode()
    assert browser.get("/settings/").status_code == 200
    assert other_browser.get("/settings/").status_code == 302
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {jwt}")
    assert api.get("/api/auth/me").status_code == 401
    assert AuditEvent.objects.filter(action="user.password_changed", actor=alice).exists()


def test_password_reset_mails_a_one_time_link_that_sets_a_new_password(
    client, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):  # the mail goes once the request's work commits
        assert client.post("/accounts/password-reset/", {"email": "nobody@example.test"}).status_code == 302
        assert mail.outbox == []  # the same answer, and no mail, for an unknown address
        response = client.post("/accounts/password-reset/", {"email": "alice@example.test"})
    assert response.status_code == 302 and response["Location"] == "/accounts/password-reset/sent/"
    assert len(mail.outbox) == 1
    link = re.search(r"https?://[^/\s]+(/accounts/password-reset/\S+/\S+/)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)
    assert form.status_code == 200 and "Choose a new password" in form.content.decode()
    done = client.post(form.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302 and done["Location"] == "/accounts/password-reset/complete/"
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    assert "no longer works" in client.get(link, follow=True).content.decode()


def test_password_reset_requests_are_limited(client, alice, settings, django_capture_on_commit_callbacks):
    settings.PASSWORD_RESET_RATE = "2/hour"
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):
            client.post("/accounts/password-reset/", {"email": "alice@example.test"})
        refused = client.post("/accounts/password-reset/", {"email": "alice@example.test"})
    assert refused.status_code == 429 and len(mail.outbox) == 2
