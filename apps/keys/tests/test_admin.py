import pytest
from django.test import Client

from apps.audit.models import AuditEvent
from apps.keys.models import ProviderKey
from apps.keys.tests.conftest import master_key

CHANGELIST = "/admin/keys/providerkey/"


@pytest.fixture
def olivia_admin(olivia):
    client = Client()
    client.force_login(olivia)
    return client


def test_operators_see_keys_masked_with_owner_and_status(olivia_admin, alice, store_key):
    key, plaintext = store_key(alice, label="Work")

    changelist = olivia_admin.get(CHANGELIST)
    change = olivia_admin.get(f"{CHANGELIST}{key.pk}/change/")

    assert changelist.status_code == 200 and change.status_code == 200
    for page in (changelist.content.decode(), change.content.decode()):
        assert key.mask in page and "alice" in page
        assert plaintext not in page and plaintext[-12:] not in page
    assert 'name="ciphertext"' not in change.content.decode()
    assert "<textarea" not in change.content.decode() and 'type="text"' not in change.content.decode()
    assert 'name="_save"' not in change.content.decode()


def test_posting_the_change_form_changes_nothing(olivia_admin, alice, store_key):
    key, _ = store_key(alice)
    before = ProviderKey.objects.get(pk=key.pk).updated_at

    olivia_admin.post(f"{CHANGELIST}{key.pk}/change/", {"label": "Hijacked", "status": "revoked"})

    after = ProviderKey.objects.get(pk=key.pk)
    assert (after.label, after.status, after.updated_at) == (key.label, "active", before)


def test_the_changelist_filters_and_searches(olivia_admin, alice, bob, store_key):
    store_key(alice, label="Alpha")
    store_key(bob, provider="anthropic", label="Beta")

    by_owner = olivia_admin.get(CHANGELIST, {"q": "bob"}).content.decode()
    by_provider = olivia_admin.get(CHANGELIST, {"provider__exact": "openai"}).content.decode()

    assert "Beta" in by_owner and "Alpha" not in by_owner
    assert "Alpha" in by_provider and "Beta" not in by_provider


def test_there_is_no_add_or_delete_in_the_admin(olivia_admin, alice, store_key):
    key, _ = store_key(alice)

    assert olivia_admin.get(f"{CHANGELIST}add/").status_code == 403
    assert olivia_admin.get(f"{CHANGELIST}{key.pk}/delete/").status_code == 403


def test_the_revoke_action_erases_the_secret_and_is_audited(olivia_admin, olivia, alice, store_key):
    key, _ = store_key(alice)

    response = olivia_admin.post(CHANGELIST, {"action": "revoke_keys", "_selected_action": [key.pk]}, follow=True)

    assert response.status_code == 200 and "Revoked 1 key(s)." in response.content.decode()
    key.refresh_from_db()
    assert key.status == "revoked" and bytes(key.ciphertext) == b"" and not key.is_default
    event = AuditEvent.objects.get(action="provider_key.revoked")
    assert event.actor_id == olivia.pk and event.data["owner_id"] == alice.pk


def test_the_rewrap_action_moves_selected_keys_to_the_current_master_key(
    olivia_admin, olivia, alice, store_key, keyring, settings
):
    key, _ = store_key(alice)
    keyring(f"{master_key('v2')},{settings.VAULT_MASTER_KEYS}")

    response = olivia_admin.post(CHANGELIST, {"action": "rewrap_keys", "_selected_action": [key.pk]}, follow=True)

    assert "Re-wrapped 1 key(s) under master key v2" in response.content.decode()
    assert ProviderKey.objects.get(pk=key.pk).master_key_version == "v2"
    assert AuditEvent.objects.get(action="provider_key.rewrapped").actor_id == olivia.pk


def test_auditors_and_users_cannot_reach_the_keys_admin(audrey, alice, store_key):
    store_key(alice)
    for user in (audrey, alice):
        client = Client()
        client.force_login(user)
        assert client.get(CHANGELIST).status_code in (302, 403)


def test_the_key_page_is_a_view_page_and_the_actions_stay(olivia_admin, alice, store_key):
    key, _ = store_key(alice)

    page = olivia_admin.get(f"{CHANGELIST}{key.pk}/change/").content.decode()
    changelist = olivia_admin.get(CHANGELIST).content.decode()

    assert "View provider key" in page and "Change provider key" not in page
    assert 'value="revoke_keys"' in changelist and 'value="rewrap_keys"' in changelist
    assert olivia_admin.post(f"{CHANGELIST}{key.pk}/change/", {"label": "Hijacked"}).status_code == 403
