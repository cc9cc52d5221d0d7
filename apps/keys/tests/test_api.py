import datetime as dt

import pytest
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.keys.models import ProviderKey
from apps.providers.tests.keys import anthropic_key, compatible_key, openai_key

URL = "/api/api-keys"


def _create(client, **body):
    body.setdefault("provider", "openai")
    body.setdefault("api_key", openai_key())
    return client.post(URL, body, format="json")


def test_storing_a_key_answers_with_the_masked_key_only(alice_client, keyring):
    api_key = openai_key()

    response = _create(alice_client, api_key=api_key, label="Work")

    assert response.status_code == 201
    body = response.json()
    assert body["success"] is True and "will not be shown again" in body["message"]
    key = body["key"]
    assert key["provider"] == "openai" and key["label"] == "Work" and key["status"] == "active"
    assert key["mask"] == "sk-proj-..." + api_key[-4:] and key["is_default"] is True
    assert len(key["fingerprint"]) == 16
    assert api_key not in response.content.decode()
    assert not {"api_key", "ciphertext", "nonce", "wrapped_data_key"} & set(key)


@pytest.mark.parametrize("path", [URL, URL + "/"])
def test_the_collection_answers_with_and_without_a_trailing_slash(alice_client, keyring, path):
    assert alice_client.post(path, {"provider": "openai", "api_key": openai_key()}, format="json").status_code == 201
    assert alice_client.get(path).status_code == 200


def test_listing_shows_only_the_callers_keys(alice_client, bob_client, keyring):
    _create(alice_client, label="Alice's")
    _create(bob_client, label="Bob's")

    body = alice_client.get(URL).json()

    assert body["success"] is True
    assert [key["label"] for key in body["keys"]] == ["Alice's"]


def test_an_anonymous_caller_gets_401_everywhere(anon_client, alice_client, keyring):
    key_id = _create(alice_client).json()["key"]["id"]
    calls = [
        ("get", URL),
        ("post", URL),
        ("get", f"{URL}/providers"),
        ("get", f"{URL}/{key_id}"),
        ("delete", f"{URL}/{key_id}"),
        ("post", f"{URL}/{key_id}/rotate"),
        ("post", f"{URL}/{key_id}/validate"),
        ("post", f"{URL}/{key_id}/default"),
    ]
    for method, path in calls:
        response = getattr(anon_client, method)(path, {}, format="json")
        assert response.status_code == 401, (method, path)
        assert response.json()["error"]["code"] == "not_authenticated"


def test_another_users_key_is_404_on_every_endpoint(alice_client, bob_client, keyring, fake_provider):
    created = _create(alice_client).json()["key"]
    key_id = created["id"]
    calls = [
        ("get", f"{URL}/{key_id}", {}),
        ("delete", f"{URL}/{key_id}", {}),
        ("post", f"{URL}/{key_id}/rotate", {"api_key": openai_key()}),
        ("post", f"{URL}/{key_id}/validate", {}),
        ("post", f"{URL}/{key_id}/default", {}),
    ]
    for method, path, body in calls:
        response = getattr(bob_client, method)(path, body, format="json")
        assert response.status_code == 404, (method, path)
        assert response.json()["error"]["code"] == "not_found"
    missing = bob_client.get(f"{URL}/999999")
    assert missing.json() == {"error": {"code": "not_found", "message": "No such key.", "details": {"id": 999999}}}
    row = ProviderKey.objects.get(pk=key_id)
    assert row.status == "active" and row.last_validated_at is None and row.last_used_at is None
    assert fake_provider.requests == []


def test_retrieving_a_key(alice_client, keyring):
    key_id = _create(alice_client, label="Mine").json()["key"]["id"]

    response = alice_client.get(f"{URL}/{key_id}/")

    assert response.status_code == 200
    assert response.json()["key"]["label"] == "Mine"


def test_a_non_numeric_id_is_404(alice_client, keyring):
    assert alice_client.get(f"{URL}/abc").status_code == 404


def test_a_malformed_key_is_a_400_naming_the_problem(alice_client, keyring):
    api_key = "sk-ant-api03-" + "z" * 95

    response = _create(alice_client, provider="openai", api_key=api_key)

    assert response.status_code == 400
    body = response.json()
    assert body["error"]["code"] == "invalid_key_format"
    assert "Not a valid OpenAI key. This looks like an Anthropic key" in body["error"]["message"]
    assert api_key not in response.content.decode()


def test_unknown_fields_and_providers_are_400(alice_client, keyring):
    assert _create(alice_client, apikey="x").json()["error"]["details"] == {"apikey": ["Unknown field."]}
    response = _create(alice_client, provider="no-such-provider")
    assert response.status_code == 400 and "provider" in response.json()["error"]["details"]


def test_a_past_expiry_is_400(alice_client, keyring):
    response = _create(alice_client, expires_at=(timezone.now() - dt.timedelta(days=1)).isoformat())

    assert response.status_code == 400
    assert response.json()["error"]["details"] == {"expires_at": ["Must be in the future."]}


def test_the_same_key_twice_is_409_naming_the_existing_label(alice_client, keyring):
    api_key = openai_key()
    _create(alice_client, api_key=api_key, label="Work")

    response = _create(alice_client, api_key=api_key, label="Again")

    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "duplicate_key" and error["details"]["label"] == "Work"
    assert api_key not in response.content.decode()


def test_a_user_cannot_store_a_key_for_another_user(alice_client, bob, keyring):
    response = _create(alice_client, user_id=bob.pk)

    assert response.status_code == 403
    assert response.json()["error"]["code"] == "not_operator"
    assert not ProviderKey.objects.exists()
    assert AuditEvent.objects.get(action="provider_key.created").outcome == "denied"


def test_a_user_may_name_themselves(alice_client, alice, keyring):
    assert _create(alice_client, user_id=alice.pk).status_code == 201


def test_an_operator_stores_a_key_for_a_user(olivia_client, olivia, bob, keyring):
    response = _create(olivia_client, user_id=bob.pk, label="Set up by support")

    assert response.status_code == 201
    key = ProviderKey.objects.get(pk=response.json()["key"]["id"])
    assert key.owner == bob and key.created_by == olivia
    event = AuditEvent.objects.get(action="provider_key.created")
    assert event.actor_id == olivia.pk and event.data["owner_id"] == bob.pk


def test_an_operator_naming_a_missing_user_gets_404(olivia_client, keyring):
    assert _create(olivia_client, user_id=987654).status_code == 404


def test_rotation_returns_the_replacement(alice_client, keyring):
    old = _create(alice_client, label="Work").json()["key"]
    new_secret = openai_key()

    response = alice_client.post(f"{URL}/{old['id']}/rotate", {"api_key": new_secret}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["replaces"] == old["id"]
    assert body["key"]["label"] == "Work" and body["key"]["mask"].endswith(new_secret[-4:])
    assert new_secret not in response.content.decode()
    old_now = alice_client.get(f"{URL}/{old['id']}").json()["key"]
    assert old_now["status"] == "superseded" and old_now["replaced_by"] == body["key"]["id"]
    assert [key["id"] for key in alice_client.get(URL).json()["keys"]] == [body["key"]["id"]]
    again = alice_client.post(f"{URL}/{old['id']}/rotate", {"api_key": openai_key()}, format="json")
    assert again.status_code == 409 and again.json()["error"]["details"] == {"replaced_by": body["key"]["id"]}


def test_rotation_needs_a_well_formed_key(alice_client, keyring):
    key_id = _create(alice_client).json()["key"]["id"]

    response = alice_client.post(f"{URL}/{key_id}/rotate", {"api_key": "nope"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_key_format"


def test_deleting_a_key(alice_client, keyring):
    key_id = _create(alice_client).json()["key"]["id"]

    response = alice_client.delete(f"{URL}/{key_id}")

    assert response.status_code == 200 and response.json() == {"success": True, "message": "Key deleted."}
    assert alice_client.get(f"{URL}/{key_id}").status_code == 404
    assert AuditEvent.objects.filter(action="provider_key.deleted", target_id=str(key_id)).exists()


def test_making_another_key_the_default(alice_client, keyring):
    first = _create(alice_client, label="One").json()["key"]
    second = _create(alice_client, label="Two").json()["key"]
    assert (first["is_default"], second["is_default"]) == (True, False)

    response = alice_client.post(f"{URL}/{second['id']}/default")

    assert response.status_code == 200 and response.json()["key"]["is_default"] is True
    assert alice_client.get(f"{URL}/{first['id']}").json()["key"]["is_default"] is False


def test_the_provider_registry_shows_public_urls_not_configuration(alice_client, settings):
    settings.OPENAI_BASE_URL = "https://user:secret@proxy.internal/v1"

    response = alice_client.get(f"{URL}/providers")

    assert response.status_code == 200
    providers = {item["name"]: item for item in response.json()["providers"]}
    assert set(providers) == {"openai", "anthropic", "gemini", "openai_compatible"}
    assert providers["anthropic"]["key_format"]["prefixes"] == ["sk-ant-api"]
    assert "chat" in providers["openai"]["features"] and providers["openai"]["docs_url"]
    assert "proxy.internal" not in response.content.decode()
    assert providers["openai_compatible"]["requires_base_url"] is True
    assert providers["openai"]["default_base_url"] == "https://api.openai.com/v1"


# --- live validation through the API ---------------------------------------------------------------


@pytest.mark.parametrize(("provider", "maker"), [("openai", openai_key), ("anthropic", anthropic_key)])
def test_validating_a_stored_key_records_the_result(alice_client, keyring, fake_provider, provider, maker):
    api_key = maker()
    fake_provider.valid_keys.add(api_key)
    key_id = _create(alice_client, provider=provider, api_key=api_key).json()["key"]["id"]

    response = alice_client.post(f"{URL}/{key_id}/validate")

    assert response.status_code == 200
    body = response.json()
    assert body["validation"]["result"] == "valid" and body["key"]["last_validation_result"] == "valid"
    row = ProviderKey.objects.get(pk=key_id)
    assert row.last_validated_at is not None and row.last_used_at is not None
    assert AuditEvent.objects.get(action="provider_key.validated").outcome == "success"


def test_a_key_the_provider_rejects_is_422_and_recorded(alice_client, keyring, fake_provider):
    api_key = openai_key()
    key_id = _create(alice_client, api_key=api_key).json()["key"]["id"]

    response = alice_client.post(f"{URL}/{key_id}/validate")

    assert response.status_code == 422
    assert response.json()["error"]["code"] == "key_rejected"
    assert api_key not in response.content.decode()
    assert ProviderKey.objects.get(pk=key_id).last_validation_result == "invalid"


def test_an_unresponsive_provider_is_503_and_recorded(alice_client, keyring, fake_provider):
    api_key = anthropic_key()
    fake_provider.stall_keys.add(api_key)
    key_id = _create(alice_client, provider="anthropic", api_key=api_key).json()["key"]["id"]

    response = alice_client.post(f"{URL}/{key_id}/validate")

    assert response.status_code == 503
    assert response.json()["error"]["code"] == "provider_unreachable"
    assert ProviderKey.objects.get(pk=key_id).last_validation_result == "unreachable"


def test_validation_on_store_refuses_a_rejected_key(alice_client, keyring, fake_provider):
    response = _create(alice_client, validate=True)

    assert response.status_code == 422
    assert not ProviderKey.objects.exists()


def test_validation_on_store_keeps_an_accepted_key(alice_client, keyring, fake_provider):
    api_key = openai_key()
    fake_provider.valid_keys.add(api_key)

    response = _create(alice_client, api_key=api_key, validate=True)

    assert response.status_code == 201
    assert response.json()["validation"]["result"] == "valid"
    assert response.json()["key"]["last_validation_result"] == "valid"


def test_an_expired_key_cannot_be_validated(alice_client, keyring, fake_provider):
    key_id = _create(alice_client).json()["key"]["id"]
    ProviderKey.objects.filter(pk=key_id).update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    response = alice_client.post(f"{URL}/{key_id}/validate")

    assert response.status_code == 409 and response.json()["error"]["code"] == "key_expired"
    assert fake_provider.requests == []


def test_an_openai_compatible_key_needs_an_allowed_base_url(alice_client, keyring, fake_provider, settings):
    api_key = compatible_key()
    fake_provider.valid_keys.add(api_key)

    stored = _create(
        alice_client, provider="openai_compatible", api_key=api_key, base_url=fake_provider.openai_base_url
    )
    assert stored.status_code == 201 and stored.json()["key"]["base_url"] == fake_provider.openai_base_url
    assert alice_client.post(f"{URL}/{stored.json()['key']['id']}/validate").status_code == 200

    settings.PROVIDER_ALLOW_PRIVATE_NETWORKS = False
    refused = _create(
        alice_client, provider="openai_compatible", api_key=compatible_key(), base_url=fake_provider.openai_base_url
    )
    assert refused.status_code == 400 and "base_url" in refused.json()["error"]["details"]
    missing = _create(alice_client, provider="openai_compatible", api_key=compatible_key())
    assert missing.status_code == 400
    stray = _create(alice_client, provider="openai", base_url="https://93.184.215.14/v1")
    assert stray.status_code == 400 and "Only OpenAI-compatible keys" in stray.json()["error"]["message"]
