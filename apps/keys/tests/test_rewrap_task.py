"""The `keys.rewrap` job carries on by itself, run after run, until every key is re-wrapped."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.keys import services, tasks
from apps.keys.models import ProviderKey
from apps.keys.tests.test_services import _store_many, master_key

pytestmark = pytest.mark.django_db


def test_a_rewrap_that_outlives_its_run_queues_the_rest_until_every_key_is_moved(alice, keyring):
    old, new = master_key("v1"), master_key("v2")
    keyring(old)
    keys = _store_many(alice, 5)
    keyring(f"{new},{old}")

    # No time at all per run: each run commits one batch, then hands the rest to the next run.
    first = tasks.rewrap.delay(batch_size=2, seconds=0).get()

    assert first == {"batches": 1, "continued": True, "stopped_by": "_RunOver"}
    assert ProviderKey.objects.filter(master_key_version="v1").count() == 0
    assert AuditEvent.objects.filter(action="provider_key.rewrap_batch").count() == 3
    keyring(new)
    for pk, plaintext in keys.items():
        assert services.provider_key_plaintext_for_call(key=ProviderKey.objects.get(pk=pk)) == plaintext


def test_a_run_with_time_left_finishes_in_one_go(alice, keyring):
    old, new = master_key("v1"), master_key("v2")
    keyring(old)
    _store_many(alice, 3)
    keyring(f"{new},{old}")

    result = tasks.rewrap.delay(batch_size=2).get()

    assert (result["rewrapped"], result["remaining"], result["batches"]) == (3, 0, 2)


def test_by_default_a_run_takes_half_the_soft_time_limit():
    from config.celery import app

    assert tasks._half_the_soft_limit(tasks.rewrap) == app.conf.task_soft_time_limit / 2
