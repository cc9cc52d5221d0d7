import io

import pytest
from django.core.management import CommandError, call_command

from apps.keys import services
from apps.keys.models import ProviderKey
from apps.keys.tests.conftest import master_key
from config.env import vault_keyring


def test_generate_key_prints_an_entry_for_the_next_version(keyring, settings):
    keyring(f"{master_key('v2')},{master_key('v1')}")
    out = io.StringIO()

    call_command("vault_generate_key", stdout=out, stderr=io.StringIO())

    (entry,) = out.getvalue().split()
    assert entry.startswith("v3:")
    assert vault_keyring("VAULT_MASTER_KEYS", entry)[0][0] == "v3"


def test_generate_key_refuses_a_version_already_in_use(keyring):
    with pytest.raises(CommandError, match="already in VAULT_MASTER_KEYS"):
        call_command("vault_generate_key", "--key-version", "v1", stdout=io.StringIO(), stderr=io.StringIO())


def test_rewrap_command_reports_progress_and_finishes(alice, store_key, keyring, settings):
    keys = [store_key(alice, label=f"k{i}") for i in range(3)]
    keyring(f"{master_key('v2')},{settings.VAULT_MASTER_KEYS}")
    out = io.StringIO()

    call_command("vault_rewrap", "--batch-size", "2", stdout=out)

    text = out.getvalue()
    assert "batch 1: 2 re-wrapped" in text and "batch 2: 3 re-wrapped" in text
    assert "Done: 3 re-wrapped, 0 failed, 0 not on v2." in text
    keyring(settings.VAULT_MASTER_KEYS.split(",")[0])
    for key, plaintext in keys:
        assert services.provider_key_plaintext_for_call(key=key) == plaintext


def test_rewrap_command_fails_loudly_when_an_old_master_key_is_missing(alice, store_key, keyring):
    store_key(alice)
    keyring(master_key("v2"))

    with pytest.raises(CommandError, match="still wrapped by an older master key"):
        call_command("vault_rewrap", stdout=io.StringIO())
    assert ProviderKey.objects.get().master_key_version == "v1"


def test_the_rewrap_task_runs_the_service(alice, store_key, keyring, settings):
    from apps.keys.tasks import rewrap

    store_key(alice)
    keyring(f"{master_key('v2')},{settings.VAULT_MASTER_KEYS}")

    result = rewrap.delay(batch_size=10).get()

    assert (result["rewrapped"], result["remaining"], result["master_key_version"]) == (1, 0, "v2")
