"""/settings/keys/: add (with inline errors), validate, rotate, default, expiry, delete — on the vault's services."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.keys.models import ProviderKey
from apps.providers.tests.keys import openai_key
from apps.web.models import SetupStep

pytestmark = pytest.mark.django_db


def _add(browser, api_key: str, **extra):
    data = {"provider": "openai", "api_key": api_key, "label": "", "base_url": "", "expires_at": "", **extra}
    return browser.post("/settings/keys/", data)


def test_a_malformed_key_is_refused_inline_and_never_echoed(alice_browser, alice, keyring):
    bad = "sk-ant-api03-" + "x" * 90
    response = _add(alice_browser, bad)
    body = response.content.decode()
    assert response.status_code == 400
    assert "This looks like an Anthropic key" in body and "field-invalid" in body
    assert bad not in body and 'type="password"' in body
    assert not ProviderKey.objects.filter(owner=alice).exists()


def test_a_key_the_provider_rejects_is_not_stored_and_the_page_says_why(alice_browser, alice, keyring, fake_provider):
    refused = openai_key()
    response = _add(alice_browser, refused, validate="on")
    assert response.status_code == 422
    assert "rejected" in response.content.decode().lower() and refused not in response.content.decode()
    assert not ProviderKey.objects.filter(owner=alice).exists()

    accepted = openai_key()
    fake_provider.valid_keys.add(accepted)
    response = _add(alice_browser, accepted, validate="on", label="Work")
    assert response.status_code == 302
    page = alice_browser.get(response["Location"]).content.decode()
    key = ProviderKey.objects.get(owner=alice)
    assert key.label == "Work" and key.is_default and key.last_validation_result == "valid"
    assert key.mask in page and "Valid" in page and accepted not in page
    assert set(SetupStep.objects.filter(user=alice).values_list("step", flat=True)) == {"key_added", "key_validated"}


def test_a_duplicate_key_is_refused_with_the_label_it_is_stored_under(alice_browser, store_key, alice):
    _, plaintext = store_key(alice, label="Home")
    response = _add(alice_browser, plaintext)
    assert response.status_code == 409 and "already stored as &#x27;Home&#x27;" in response.content.decode()


def test_validate_records_the_providers_answer(alice_browser, alice, store_key, fake_provider):
    key, plaintext = store_key(alice)
    response = alice_browser.post(f"/settings/keys/{key.pk}/validate/", follow=True)
    assert "Not confirmed" in response.content.decode()
    key.refresh_from_db()
    assert key.last_validation_result == "invalid"
    fake_provider.valid_keys.add(plaintext)
    response = alice_browser.post(f"/settings/keys/{key.pk}/validate/", {"next": "setup"})
    assert response["Location"] == "/settings/"
    key.refresh_from_db()
    assert key.last_validation_result == "valid"


def test_rotate_replaces_the_secret_and_keeps_label_and_default(alice_browser, alice, store_key):
    key, _ = store_key(alice, label="Work")
    assert "Rotate “Work”" in alice_browser.get(f"/settings/keys/{key.pk}/rotate/").content.decode()
    new_secret = openai_key()
    response = alice_browser.post(f"/settings/keys/{key.pk}/rotate/", {"api_key": new_secret})
    assert response.status_code == 302
    key.refresh_from_db()
    new = ProviderKey.objects.get(owner=alice, status="active")
    assert key.status == "superseded" and new.label == "Work" and new.is_default
    again = alice_browser.post(f"/settings/keys/{key.pk}/rotate/", {"api_key": openai_key()})
    assert again.status_code == 409 and "already rotated" in again.content.decode()


def test_make_default_and_delete_with_confirmation(alice_browser, alice, store_key):
    first, _ = store_key(alice, label="One")
    second, _ = store_key(alice, label="Two")
    alice_browser.post(f"/settings/keys/{second.pk}/default/")
    second.refresh_from_db()
    assert second.is_default
    confirm = alice_browser.get(f"/settings/keys/{second.pk}/delete/")
    assert confirm.status_code == 200 and "Delete “Two”?" in confirm.content.decode()
    assert ProviderKey.objects.filter(pk=second.pk).exists()  # asking is not deleting
    alice_browser.post(f"/settings/keys/{second.pk}/delete/")
    assert not ProviderKey.objects.filter(pk=second.pk).exists()
    first.refresh_from_db()
    assert first.is_default
    assert AuditEvent.objects.filter(action="provider_key.deleted", actor=alice).exists()


def test_expiry_can_be_set_cleared_and_refuses_the_past(alice_browser, alice, store_key):
    key, _ = store_key(alice)
    ahead = (timezone.now() + dt.timedelta(days=30)).date()
    alice_browser.post(f"/settings/keys/{key.pk}/expiry/", {"expires_at": ahead.isoformat()})
    key.refresh_from_db()
    assert key.expires_at.date() == ahead
    past = alice_browser.post(f"/settings/keys/{key.pk}/expiry/", {"expires_at": "2020-01-01"})
    assert past.status_code == 400 and "Must be in the future." in past.content.decode()
    alice_browser.post(f"/settings/keys/{key.pk}/expiry/", {"expires_at": ""})
    key.refresh_from_db()
    assert key.expires_at is None
    assert AuditEvent.objects.filter(action="provider_key.expiry_set").count() == 2


def test_an_expired_key_comes_back_when_its_expiry_moves_ahead(alice_browser, alice, store_key):
    key, _ = store_key(alice)
    ProviderKey.objects.filter(pk=key.pk).update(status="expired", expires_at=timezone.now() - dt.timedelta(days=1))
    alice_browser.post(f"/settings/keys/{key.pk}/expiry/", {"expires_at": ""})
    key.refresh_from_db()
    assert key.status == "active" and key.effective_status == "active"
