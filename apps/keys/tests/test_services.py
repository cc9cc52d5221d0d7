import datetime as dt
import threading

import pytest
from django.core import mail
from django.db import connection
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.core.errors import Conflict, Forbidden, InvalidInput, ServiceUnavailable
from apps.core.http_errors import http_status
from apps.keys import crypto, selectors, services
from apps.keys.models import ProviderKey
from apps.keys.services import ProviderKeyUnusable
from apps.keys.tests.conftest import master_key
from apps.providers.tests.keys import anthropic_key, openai_key


def _events(action):
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


def test_a_stored_key_is_encrypted_masked_and_decrypts_for_a_call(alice, store_key):
    key, plaintext = store_key(alice, label="Work")

    row = ProviderKey.objects.get(pk=key.pk)
    assert plaintext.encode() not in bytes(row.ciphertext)
    assert row.mask == "sk-proj-..." + plaintext[-4:]
    assert row.master_key_version == "v1"
    assert row.is_default and row.status == "active"
    assert row.last_used_at is None
    assert services.provider_key_plaintext_for_call(key=row) == plaintext
    row.refresh_from_db()
    assert row.last_used_at is not None


def test_creation_is_audited_with_the_mask_and_never_the_key(alice, store_key):
    key, plaintext = store_key(alice)

    (event,) = _events("provider_key.created")
    assert event.actor_id == alice.pk and event.target_id == str(key.pk)
    assert event.data["mask"] == key.mask
    assert event.data["fingerprint_prefix"] == key.fingerprint[:12]
    assert plaintext not in str(event.data) and key.fingerprint not in str(event.data)


@pytest.mark.parametrize(
    ("provider", "api_key", "problem"),
    [
        ("openai", "sk-ant-api03-" + "a" * 95, "looks like an Anthropic key"),
        ("openai", "pk-" + "a" * 60, "OpenAI keys start with sk-proj-"),
        ("openai", "sk-proj-" + "a" * 20, "too short"),
        ("openai", "sk-proj-" + "a" * 400, "too long"),
        ("openai", "sk-proj-" + "a" * 30 + " " + "b" * 30, "spaces or line breaks"),
        ("openai", "sk-proj-" + "a" * 30 + "!" + "b" * 30, "may only contain letters, digits"),
        ("openai", "sk-admin-" + "a" * 60, "admin key"),
        ("anthropic", "sk-proj-" + "a" * 100, "looks like an OpenAI key"),
        ("anthropic", "sk-" + "a" * 100, "Anthropic keys start with sk-ant-api"),
        ("anthropic", "sk-ant-api03-" + "a" * 20, "too short"),
        ("anthropic", "sk-ant-admin01-" + "a" * 95, "admin key"),
        ("anthropic", "sk-ant-oat01-" + "a" * 95, "OAuth token"),
        ("anthropic", "sk-ant-api03-" + "a" * 50 + "/" + "a" * 50, "may only contain"),
        ("openai_compatible", "abc12xyz", "too short"),
        ("openai_compatible", "a" * 20 + "\t" + "b" * 5, "spaces or line breaks"),
    ],
)
def test_the_format_check_says_what_is_wrong_without_repeating_the_key(alice, keyring, provider, api_key, problem):
    with pytest.raises(InvalidInput) as caught:
        services.provider_key_create(
            actor=alice, owner=alice, provider=provider, api_key=api_key, base_url="http://127.0.0.1:9/v1"
        )
    message = str(caught.value.details)
    assert problem in message
    middle = api_key[8:30]
    assert api_key not in message and (len(middle) < 8 or middle not in message)
    assert not ProviderKey.objects.exists()


@pytest.mark.parametrize(
    ("provider", "api_key"),
    [
        ("openai", "sk-" + "A1b2C3d4" * 6),
        ("openai", openai_key()),
        ("openai", "sk-svcacct-" + "x_y-Z9" * 20),
        ("anthropic", anthropic_key()),
        ("openai_compatible", "gsk_" + "a1B2" * 13),
    ],
)
def test_well_formed_keys_of_each_provider_are_accepted(alice, keyring, provider, api_key):
    key, _ = services.provider_key_create(
        actor=alice,
        owner=alice,
        provider=provider,
        api_key="  " + api_key + "\n",
        base_url="http://127.0.0.1:9/v1" if provider == "openai_compatible" else "",
    )
    assert services.provider_key_plaintext_for_call(key=key) == api_key
    assert key.mask.endswith("..." + api_key[-4:])
    assert len(key.mask) <= len("sk-svcacct-...") + 4


def test_the_same_key_twice_is_refused_naming_the_existing_label(alice, store_key):
    _, plaintext = store_key(alice, label="Work")

    with pytest.raises(Conflict) as caught:
        store_key(alice, api_key=plaintext, label="Again")

    assert caught.value.code == "duplicate_key"
    assert "'Work'" in caught.value.message and plaintext not in caught.value.message
    assert ProviderKey.objects.count() == 1
    (event,) = _events("provider_key.duplicate_refused")
    assert event.outcome == "failure"


def test_another_user_may_store_the_same_key(alice, bob, store_key):
    _, plaintext = store_key(alice)
    key, _ = store_key(bob, api_key=plaintext)

    assert key.owner == bob


def test_a_label_that_looks_like_a_key_is_refused(alice, store_key):
    with pytest.raises(InvalidInput, match="label looks like an API key"):
        store_key(alice, label="sk-proj-abcdefgh12345678")


def test_a_label_is_unique_per_provider(alice, store_key):
    store_key(alice, label="Work")

    with pytest.raises(Conflict, match="labelled 'Work'"):
        store_key(alice, label="Work")
    assert store_key(alice, provider="anthropic", label="Work")[0].label == "Work"
    assert store_key(alice)[0].label == "OpenAI"
    assert store_key(alice)[0].label == "OpenAI 2"


def test_a_user_cannot_store_a_key_for_someone_else(alice, bob, keyring):
    with pytest.raises(Forbidden):
        services.provider_key_create(actor=alice, owner=bob, provider="openai", api_key=openai_key())

    assert not ProviderKey.objects.exists()
    assert _events("provider_key.created")[0].outcome == "denied"


def test_an_operator_stores_a_key_for_a_user_and_both_are_audited(olivia, bob, keyring):
    key, _ = services.provider_key_create(actor=olivia, owner=bob, provider="openai", api_key=openai_key())

    assert key.owner == bob and key.created_by == olivia
    (event,) = _events("provider_key.created")
    assert event.actor_id == olivia.pk
    assert event.data["owner_id"] == bob.pk and event.data["acting_for_owner"] is True


def test_the_first_key_per_provider_is_the_default_and_deleting_it_promotes_the_next(alice, store_key):
    first, _ = store_key(alice, label="One")
    second, _ = store_key(alice, label="Two")
    other, _ = store_key(alice, provider="anthropic")

    assert [first.is_default, second.is_default, other.is_default] == [True, False, True]
    services.provider_key_delete(actor=alice, key=first)

    assert selectors.provider_key_default(owner=alice, provider="openai") == second
    assert ProviderKey.objects.get(pk=second.pk).is_default


def test_setting_a_default_moves_the_flag(alice, store_key):
    store_key(alice, label="One")
    second, _ = store_key(alice, label="Two")

    services.provider_key_set_default(actor=alice, key=second)

    assert list(ProviderKey.objects.filter(is_default=True)) == [second]
    assert selectors.provider_key_default(owner=alice, provider="openai").pk == second.pk


def test_the_default_selector_skips_an_expired_default(alice, store_key):
    first, _ = store_key(alice, label="One")
    second, _ = store_key(alice, label="Two")
    ProviderKey.objects.filter(pk=first.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    assert selectors.provider_key_default(owner=alice, provider="openai").pk == second.pk
    assert selectors.provider_key_default(owner=alice, provider="anthropic") is None


def test_the_list_selector_has_the_fields_the_mcp_tool_needs_and_no_secrets(alice, bob, store_key):
    key, _ = store_key(alice)
    store_key(bob)

    (row,) = selectors.provider_key_list(owner=alice)
    assert row.pk == key.pk
    assert {"nonce", "ciphertext", "wrapped_data_key", "data_key_nonce"} <= row.get_deferred_fields()
    for name in ("id", "provider", "label", "mask", "status", "is_default", "expires_at", "last_used_at"):
        assert name not in row.get_deferred_fields()


def test_rotation_replaces_the_secret_and_keeps_label_and_default(alice, store_key):
    old, old_plaintext = store_key(alice, label="Work")
    new_plaintext = openai_key()

    new, _ = services.provider_key_rotate(actor=alice, key=old, api_key=new_plaintext)

    old.refresh_from_db()
    assert (new.label, new.is_default, new.status) == ("Work", True, "active")
    assert old.status == "superseded" and old.replaced_by_id == new.pk and not old.is_default
    assert bytes(old.ciphertext) == b"" and bytes(old.wrapped_data_key) == b"" and old.master_key_version == ""
    assert services.provider_key_plaintext_for_call(key=new) == new_plaintext
    (event,) = _events("provider_key.rotated")
    assert event.data["replaces"] == old.pk and event.data["previous_mask"] == old.mask
    assert old_plaintext not in str(event.data) and new_plaintext not in str(event.data)


def test_rotating_to_the_same_secret_is_a_duplicate(alice, store_key):
    key, plaintext = store_key(alice)

    with pytest.raises(Conflict, match="already stored"):
        services.provider_key_rotate(actor=alice, key=key, api_key=plaintext)
    key.refresh_from_db()
    assert key.status == "active"


def test_rotating_a_superseded_key_names_its_replacement(alice, store_key):
    old, _ = store_key(alice)
    new, _ = services.provider_key_rotate(actor=alice, key=old, api_key=openai_key())

    with pytest.raises(Conflict) as caught:
        services.provider_key_rotate(actor=alice, key=old, api_key=openai_key())
    assert caught.value.code == "key_superseded" and caught.value.details == {"replaced_by": new.pk}


def test_rotation_keeps_a_future_expiry_and_drops_a_past_one(alice, store_key):
    future = timezone.now() + dt.timedelta(days=30)
    key, _ = store_key(alice, expires_at=future)
    rotated, _ = services.provider_key_rotate(actor=alice, key=key, api_key=openai_key())
    assert rotated.expires_at == future

    ProviderKey.objects.filter(pk=rotated.pk).update(expires_at=timezone.now() - dt.timedelta(minutes=1))
    rotated.refresh_from_db()
    again, _ = services.provider_key_rotate(actor=alice, key=rotated, api_key=openai_key())
    assert again.expires_at is None and again.status == "active"


def test_deleting_a_key_removes_its_superseded_history_but_not_the_audit_trail(alice, store_key):
    old, _ = store_key(alice)
    middle, _ = services.provider_key_rotate(actor=alice, key=old, api_key=openai_key())
    new, _ = services.provider_key_rotate(actor=alice, key=middle, api_key=openai_key())

    services.provider_key_delete(actor=alice, key=new)

    assert not ProviderKey.objects.exists()
    (event,) = _events("provider_key.deleted")
    assert event.data["superseded_rows_deleted"] == 2


@pytest.mark.parametrize("state", ["expired-by-date", "expired", "revoked", "superseded"])
def test_an_unusable_key_is_never_decrypted(alice, olivia, store_key, state):
    key, _ = store_key(alice)
    if state == "expired-by-date":
        ProviderKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    elif state == "expired":
        ProviderKey.objects.filter(pk=key.pk).update(status="expired")
    elif state == "revoked":
        services.provider_key_revoke(actor=olivia, key=key, reason="leaked")
    else:
        services.provider_key_rotate(actor=alice, key=key, api_key=openai_key())

    with pytest.raises(ProviderKeyUnusable) as caught:
        services.provider_key_plaintext_for_call(key=key)

    assert http_status(caught.value) == 409
    expected = "expired" if state.startswith("expired") else state
    assert caught.value.code == f"key_{expected}"
    assert ProviderKey.objects.get(pk=key.pk).status == expected


def test_a_ciphertext_copied_onto_another_users_row_does_not_decrypt(alice, bob, store_key):
    alices, _ = store_key(alice)
    bobs, _ = store_key(bob)
    source = ProviderKey.objects.get(pk=alices.pk)
    ProviderKey.objects.filter(pk=bobs.pk).update(
        nonce=source.nonce,
        ciphertext=source.ciphertext,
        wrapped_data_key=source.wrapped_data_key,
        data_key_nonce=source.data_key_nonce,
    )

    with pytest.raises(ServiceUnavailable) as caught:
        services.provider_key_plaintext_for_call(key=bobs)

    assert caught.value.code == "vault_error"
    assert _events("provider_key.decrypt_failed")[0].target_id == str(bobs.pk)


def test_a_tampered_row_fails_with_a_clear_error(alice, store_key):
    key, _ = store_key(alice)
    row = ProviderKey.objects.get(pk=key.pk)
    damaged = bytearray(bytes(row.ciphertext))
    damaged[3] ^= 0x80
    ProviderKey.objects.filter(pk=key.pk).update(ciphertext=bytes(damaged))

    with pytest.raises(ServiceUnavailable, match="could not be decrypted"):
        services.provider_key_plaintext_for_call(key=key)


def test_last_used_is_written_at_most_once_a_minute(alice, store_key):
    key, _ = store_key(alice)
    services.provider_key_plaintext_for_call(key=key)
    first = ProviderKey.objects.get(pk=key.pk).last_used_at
    services.provider_key_plaintext_for_call(key=key)
    assert ProviderKey.objects.get(pk=key.pk).last_used_at == first

    ProviderKey.objects.filter(pk=key.pk).update(last_used_at=first - dt.timedelta(minutes=5))
    services.provider_key_plaintext_for_call(key=key)
    assert ProviderKey.objects.get(pk=key.pk).last_used_at > first - dt.timedelta(minutes=5)


# --- expiry ---------------------------------------------------------------------------------------------


def test_the_expiry_job_marks_expired_keys_and_warns_owners_once(alice, bob, store_key, settings):
    settings.KEY_EXPIRY_WARNING_DAYS = 7
    now = timezone.now()
    soon, _ = store_key(alice, label="Soon", expires_at=now + dt.timedelta(days=3))
    later, _ = store_key(alice, label="Later", expires_at=now + dt.timedelta(days=30))
    past, _ = store_key(bob, label="Past", expires_at=now + dt.timedelta(seconds=30))
    mail.outbox.clear()

    result = services.provider_keys_expire_and_warn(now=now + dt.timedelta(minutes=1))

    assert result == {"expired": 1, "warned": 1}
    assert ProviderKey.objects.get(pk=past.pk).status == "expired"
    assert ProviderKey.objects.get(pk=soon.pk).expiry_warned_at is not None
    assert ProviderKey.objects.get(pk=later.pk).expiry_warned_at is None
    (message,) = mail.outbox
    assert message.to == ["alice@example.test"]
    assert "'Soon'" in message.subject and soon.mask in message.body
    assert [e.target_id for e in _events("provider_key.expired")] == [str(past.pk)]
    assert [e.target_id for e in _events("provider_key.expiry_warned")] == [str(soon.pk)]

    again = services.provider_keys_expire_and_warn(now=now + dt.timedelta(minutes=2))
    assert again == {"expired": 0, "warned": 0}
    assert len(mail.outbox) == 1


def test_an_owner_without_email_is_still_marked_warned(alice, store_key):
    alice.email = ""
    alice.save()
    store_key(alice, expires_at=timezone.now() + dt.timedelta(days=1))
    mail.outbox.clear()

    assert services.provider_keys_expire_and_warn()["warned"] == 1
    assert mail.outbox == []
    assert _events("provider_key.expiry_warned")[0].data["emailed"] is False


def test_the_expiry_job_is_scheduled_by_default(db):
    from django_celery_beat.models import PeriodicTask

    assert PeriodicTask.objects.filter(task="keys.expire_and_warn", enabled=True).exists()


def test_the_expiry_task_runs_the_service(alice, store_key):
    from apps.keys.tasks import expire_and_warn

    key, _ = store_key(alice, expires_at=timezone.now() + dt.timedelta(seconds=60))
    ProviderKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    assert expire_and_warn.delay().get() == {"expired": 1, "warned": 0}


# --- master-key rotation ---------------------------------------------------------------------------------


def _store_many(owner, count):
    keys = {}
    for index in range(count):
        plaintext = openai_key()
        key, _ = services.provider_key_create(
            actor=owner, owner=owner, provider="openai", api_key=plaintext, label=f"k{index}"
        )
        keys[key.pk] = plaintext
    return keys


def test_rewrap_moves_every_key_to_the_new_master_key_and_the_old_one_can_be_removed(alice, keyring):
    old, new = master_key("v1"), master_key("v2")
    keyring(old)
    keys = _store_many(alice, 7)
    keyring(f"{new},{old}")

    result = services.provider_keys_rewrap(batch_size=3)

    assert result["rewrapped"] == 7 and result["failed"] == 0 and result["remaining"] == 0
    assert result["batches"] == 3
    keyring(new)
    for pk, plaintext in keys.items():
        assert services.provider_key_plaintext_for_call(key=ProviderKey.objects.get(pk=pk)) == plaintext
    (event,) = _events("provider_key.rewrapped")
    assert event.data["rewrapped"] == 7 and event.data["master_key_version"] == "v2"


def test_rewrap_resumes_after_a_crash_and_a_second_run_is_harmless(alice, keyring):
    old, new = master_key("v1"), master_key("v2")
    keyring(old)
    keys = _store_many(alice, 5)
    keyring(f"{new},{old}")

    class Crash(Exception):
        pass

    def crash_after_first_batch(counts):
        raise Crash

    with pytest.raises(Crash):
        services.provider_keys_rewrap(batch_size=2, progress=crash_after_first_batch)
    assert ProviderKey.objects.filter(master_key_version="v2").count() == 2, "the finished batch was kept"

    resumed = services.provider_keys_rewrap(batch_size=2)
    assert (resumed["rewrapped"], resumed["remaining"]) == (3, 0)
    twice = services.provider_keys_rewrap(batch_size=2)
    assert (twice["rewrapped"], twice["batches"], twice["remaining"]) == (0, 0, 0)

    keyring(new)
    for pk, plaintext in keys.items():
        assert services.provider_key_plaintext_for_call(key=ProviderKey.objects.get(pk=pk)) == plaintext


def test_rewrap_reports_rows_whose_master_key_is_missing_and_leaves_them_alone(alice, keyring):
    keyring(master_key("v1"))
    keys = _store_many(alice, 2)
    keyring(f"{master_key('v3')},{master_key('v2')}")

    result = services.provider_keys_rewrap()

    assert (result["rewrapped"], result["failed"], result["remaining"]) == (0, 2, 2)
    assert set(ProviderKey.objects.values_list("master_key_version", flat=True)) == {"v1"}
    assert _events("provider_key.rewrapped")[0].outcome == "failure"
    assert len(keys) == 2


def test_rewrap_skips_revoked_and_superseded_rows_which_hold_no_secret(alice, olivia, store_key, keyring, settings):
    first, _ = store_key(alice, label="a")
    second, _ = store_key(alice, label="b")
    services.provider_key_revoke(actor=olivia, key=first)
    services.provider_key_rotate(actor=alice, key=second, api_key=openai_key())
    keyring(f"{master_key('v2')},{settings.VAULT_MASTER_KEYS}")

    result = services.provider_keys_rewrap()

    # Only the rotated-in key holds a secret; the revoked and superseded rows were erased.
    assert (result["rewrapped"], result["failed"], result["remaining"]) == (1, 0, 0)


# --- concurrency -----------------------------------------------------------------------------------------


def test_two_concurrent_rotations_leave_one_consistent_secret(transactional_db, alice, keyring):
    key, _ = services.provider_key_create(actor=alice, owner=alice, provider="openai", api_key=openai_key())
    candidates = [openai_key("one"), openai_key("two")]
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def rotate(secret: str) -> None:
        try:
            barrier.wait(timeout=10)
            new, _ = services.provider_key_rotate(actor=alice, key=key, api_key=secret)
            outcomes[secret] = new.pk
        except Exception as exc:
            outcomes[secret] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=rotate, args=(secret,)) for secret in candidates]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    winners = [secret for secret, outcome in outcomes.items() if isinstance(outcome, int)]
    losers = [outcome for outcome in outcomes.values() if not isinstance(outcome, int)]
    assert len(winners) == 1, outcomes
    assert len(losers) == 1 and isinstance(losers[0], Conflict)
    (active,) = ProviderKey.objects.filter(owner=alice, status="active")
    assert active.is_default and active.label == key.label
    assert services.provider_key_plaintext_for_call(key=active) == winners[0]
    assert ProviderKey.objects.filter(owner=alice, status="superseded").count() == 1
    assert crypto.current_master_key_version() == active.master_key_version
