"""The fingerprint pepper can rotate: every fingerprint names its pepper, duplicates are found under
every known pepper, and `vault_rewrap` re-makes old fingerprints under the current one, a batch at a time,
each batch audited in its own transaction."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.views.debug import SafeExceptionReporterFilter

from apps.audit.models import AuditEvent
from apps.core.errors import Conflict
from apps.keys import crypto, services
from apps.keys.models import ProviderKey
from apps.keys.tests.conftest import master_key
from apps.providers.tests.keys import openai_key
from tests.startup import start_settings

pytestmark = pytest.mark.django_db

OLD_PEPPER = "o" * 40
NEW_PEPPER = "n" * 40


@pytest.fixture
def peppers(settings, keyring):
    """Start on pepper "1"; rotate() makes "2" current and keeps "1" as a previous pepper (or drops it)."""
    settings.VAULT_FINGERPRINT_PEPPER_ID = "1"
    settings.VAULT_FINGERPRINT_SECRET = OLD_PEPPER
    settings.VAULT_FINGERPRINT_SECRETS_PREVIOUS = {}

    def rotate(*, keep_old: bool = True) -> None:
        settings.VAULT_FINGERPRINT_PEPPER_ID = "2"
        settings.VAULT_FINGERPRINT_SECRET = NEW_PEPPER
        settings.VAULT_FINGERPRINT_SECRETS_PREVIOUS = {"1": OLD_PEPPER} if keep_old else {}

    return rotate


def _store(owner, api_key: str, label: str) -> ProviderKey:
    key, _ = services.provider_key_create(actor=owner, owner=owner, provider="openai", api_key=api_key, label=label)
    return key


def test_a_fingerprint_is_stored_with_the_id_of_its_pepper(alice, peppers):
    plaintext = openai_key()
    key = _store(alice, plaintext, "a")
    assert (key.fingerprint_pepper_id, key.fingerprint) == ("1", crypto.fingerprint(plaintext))
    peppers()
    other = _store(alice, openai_key(), "b")
    assert other.fingerprint_pepper_id == "2"


def test_after_a_pepper_rotation_the_same_key_is_still_a_duplicate(alice, peppers):
    plaintext = openai_key()
    stored = _store(alice, plaintext, "a")
    peppers()

    with pytest.raises(Conflict) as caught:
        _store(alice, plaintext, "b")
    assert caught.value.code == "duplicate_key"
    assert caught.value.details["existing_key_id"] == stored.pk
    # Rotating another key to this secret is refused the same way.
    other = _store(alice, openai_key(), "c")
    with pytest.raises(Conflict) as caught:
        services.provider_key_rotate(actor=alice, key=other, api_key=plaintext)
    assert caught.value.code == "duplicate_key"


def test_the_api_answers_409_for_a_key_stored_under_the_old_pepper(alice, alice_client, peppers):
    plaintext = openai_key()
    _store(alice, plaintext, "a")
    peppers()
    response = alice_client.post("/api/api-keys", {"provider": "openai", "api_key": plaintext}, format="json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "duplicate_key"


def test_rewrap_re_fingerprints_old_keys_so_the_old_pepper_can_go(alice, bob, peppers):
    secrets = {_store(alice, openai_key(), f"a{i}").pk: None for i in range(4)}
    bobs = openai_key()
    _store(bob, bobs, "b")
    revoked = _store(alice, openai_key(), "revoked")
    services.provider_key_revoke(actor=alice, key=revoked)
    peppers()

    result = services.provider_keys_rewrap(batch_size=2)

    assert (result["refingerprinted"], result["rewrapped"], result["failed"], result["remaining"]) == (5, 0, 0, 0)
    assert result["fingerprint_pepper_id"] == "2"
    live = ProviderKey.objects.exclude(pk=revoked.pk)
    assert set(live.values_list("fingerprint_pepper_id", flat=True)) == {"2"}
    # A revoked key holds no secret to re-fingerprint: it keeps its old fingerprint and id.
    assert ProviderKey.objects.get(pk=revoked.pk).fingerprint_pepper_id == "1"
    assert ProviderKey.objects.get(owner=bob).fingerprint == crypto.fingerprint(bobs)
    # The old pepper is gone, and duplicates are still found.
    peppers(keep_old=False)
    with pytest.raises(Conflict):
        _store(bob, bobs, "again")
    assert services.provider_keys_rewrap()["refingerprinted"] == 0
    assert len(secrets) == 4


def test_rewrap_moves_master_key_and_pepper_in_one_pass_and_audits_every_batch(alice, peppers, keyring, settings):
    keys = {_store(alice, openai_key(), f"k{i}").pk for i in range(5)}
    old = settings.VAULT_MASTER_KEYS
    keyring(f"{master_key('v2')},{old}")
    peppers()

    out = io.StringIO()
    call_command("vault_rewrap", "--batch-size", "2", stdout=out)

    assert "Done: 5 re-wrapped, 0 failed, 0 not on v2." in out.getvalue()
    assert "Fingerprints: 5 re-made under pepper 2." in out.getvalue()
    batches = list(AuditEvent.objects.filter(action="provider_key.rewrap_batch").order_by("id"))
    assert [event.data["batch"] for event in batches] == [1, 2, 3]
    assert [event.data["rewrapped"] for event in batches] == [2, 2, 1]
    assert [event.data["refingerprinted"] for event in batches] == [2, 2, 1]
    assert {event.data["master_key_version"] for event in batches} == {"v2"}
    assert batches[0].data["first_id"] == min(keys) and batches[-1].data["last_id"] == max(keys)
    summary = AuditEvent.objects.get(action="provider_key.rewrapped")
    assert summary.id > batches[-1].id and summary.data["refingerprinted"] == 5


def test_a_batch_and_its_audit_event_commit_together_so_a_crash_leaves_both(alice, peppers, keyring, settings):
    for i in range(5):
        _store(alice, openai_key(), f"k{i}")
    keyring(f"{master_key('v2')},{settings.VAULT_MASTER_KEYS}")

    class Crash(Exception):
        pass

    def crash_after_first_batch(counts):
        raise Crash

    with pytest.raises(Crash):
        services.provider_keys_rewrap(batch_size=2, progress=crash_after_first_batch)

    (event,) = AuditEvent.objects.filter(action="provider_key.rewrap_batch")
    assert event.data["rewrapped"] == 2
    assert ProviderKey.objects.filter(master_key_version="v2").count() == 2
    assert not AuditEvent.objects.filter(action="provider_key.rewrapped").exists()


def test_previous_peppers_are_hidden_from_debug_pages(settings):
    settings.VAULT_FINGERPRINT_SECRETS_PREVIOUS = {"1": OLD_PEPPER}
    assert OLD_PEPPER not in str(SafeExceptionReporterFilter().get_safe_settings())


@pytest.mark.parametrize(
    ("previous", "current_id"),
    [
        ("1:short", "2"),  # pepper too short
        ("2:" + "p" * 40, "2"),  # the current id again
        ("no-separator", "2"),
        ("1:" + "p" * 40 + ",1:" + "q" * 40, "2"),  # an id twice
        ("", "bad id!"),  # an id that cannot be stored
    ],
)
@pytest.mark.own_environment
def test_a_malformed_pepper_keyring_stops_start_up(tmp_path, previous, current_id):
    result = start_settings(
        tmp_path,
        VAULT_FINGERPRINT_PEPPERS_PREVIOUS=previous or None,
        VAULT_FINGERPRINT_PEPPER_ID=current_id,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "VAULT_FINGERPRINT_PEPPER" in result.stderr
    assert "p" * 40 not in result.stderr and "q" * 40 not in result.stderr
