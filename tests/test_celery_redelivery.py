"""A worker killed mid-job does not lose it: another worker finishes it within the visibility timeout.

Real worker processes against Redis: the first starts a `keys.rewrap` job and is SIGKILLed after a
few batches; the message was never acknowledged (acks_late), so a second worker gets it again once
the (here short) visibility timeout has passed, and the idempotent job does only what was left.
Every committed batch, from either run, left its audit event.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from django.conf import settings
from django.db import transaction

from apps.audit.models import AuditEvent
from apps.keys import crypto
from apps.keys.models import ProviderKey
from apps.keys.tests.conftest import master_key
from tests.startup import start_settings
from tests.test_celery_worker import ROOT, database_url_for_test_db, wait_until

KEYS = 300
BATCH_SIZE = 2
VISIBILITY_TIMEOUT = 5
# Redelivery comes after the visibility timeout plus one sweep (1 s here); the rest is start-up slack.
REDELIVERY_DEADLINE = 45


def _old_keys(owner, keyring: str) -> None:
    """KEYS provider keys sealed under master key v1, written in bulk (the services take ~7 ms a key)."""
    with transaction.atomic():
        rows = ProviderKey.objects.bulk_create(
            ProviderKey(
                owner=owner,
                provider="openai",
                label=f"k{index}",
                mask="sk-...0000",
                fingerprint=f"{index:064x}",
                fingerprint_pepper_id=settings.VAULT_FINGERPRINT_PEPPER_ID,
            )
            for index in range(KEYS)
        )
        for row in rows:
            aad = crypto.associated_data(owner_id=owner.pk, provider="openai", key_id=row.pk)
            sealed = crypto.seal(f"sk-{row.pk:040d}", aad=aad)
            row.nonce, row.ciphertext = sealed.nonce, sealed.ciphertext
            row.wrapped_data_key, row.data_key_nonce = sealed.wrapped_data_key, sealed.data_key_nonce
            row.master_key_version = sealed.master_key_version
        ProviderKey.objects.bulk_update(
            rows, ["nonce", "ciphertext", "wrapped_data_key", "data_key_nonce", "master_key_version"]
        )


@pytest.fixture
def start_worker(transactional_db, tmp_path):
    processes: list[subprocess.Popen] = []

    def start(*, queue: str, keyring: str, name: str) -> tuple[subprocess.Popen, object]:
        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings_test",
            "DATABASE_URL": database_url_for_test_db(),
            "VAULT_MASTER_KEYS": keyring,
            "CELERY_VISIBILITY_TIMEOUT_SECONDS": str(VISIBILITY_TIMEOUT),
            "CELERY_TASK_TIME_LIMIT": str(VISIBILITY_TIMEOUT - 1),
            "CELERY_TASK_SOFT_TIME_LIMIT": str(VISIBILITY_TIMEOUT - 2),
        }
        log = (tmp_path / f"{name}.log").open("w+")
        process = subprocess.Popen(
            [
                sys.executable, "-m", "celery", "-A", "config", "worker", "-Q", queue, "-n", f"{name}@%h",
                "--pool", "solo", "--loglevel", "info", "--without-gossip", "--without-mingle", "--without-heartbeat",
            ],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        processes.append(process)
        return process, log

    yield start
    for process in processes:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()


def _read(log) -> str:
    log.seek(0)
    return log.read()[-3000:]


@pytest.mark.redis  # redelivery is the Redis broker's
def test_a_rewrap_killed_mid_job_is_finished_by_another_worker_and_every_batch_is_audited(
    start_worker, alice, settings
):
    old, new = master_key("v1"), master_key("v2")
    settings.VAULT_MASTER_KEYS = old
    _old_keys(alice, old)
    keyring = f"{new},{old}"
    queue = f"redelivery-{uuid.uuid4().hex[:8]}"

    first, first_log = start_worker(queue=queue, keyring=keyring, name="first")
    from apps.keys.tasks import rewrap
    from config.celery import app

    app.conf.task_always_eager = False
    try:
        rewrap.apply_async(kwargs={"batch_size": BATCH_SIZE}, queue=queue)
    finally:
        app.conf.task_always_eager = True

    batches = AuditEvent.objects.filter(action="provider_key.rewrap_batch")
    started = wait_until(lambda: batches.count() >= 3, timeout=60, interval=0.02)
    assert started, f"the first worker never got going; log:\n{_read(first_log)}"
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    done_when_killed = ProviderKey.objects.filter(master_key_version="v2").count()
    assert 0 < done_when_killed < KEYS, "the job must be killed mid-way for this test to mean anything"
    assert not AuditEvent.objects.filter(action="provider_key.rewrapped").exists()

    killed_at = time.monotonic()
    _second, second_log = start_worker(queue=queue, keyring=keyring, name="second")
    finished = wait_until(
        lambda: AuditEvent.objects.filter(action="provider_key.rewrapped").exists(),
        timeout=REDELIVERY_DEADLINE,
        interval=0.2,
    )
    assert finished, f"the job was not redelivered; second worker's log:\n{_read(second_log)}"
    assert time.monotonic() - killed_at < REDELIVERY_DEADLINE

    assert ProviderKey.objects.filter(master_key_version="v2").count() == KEYS
    # Every committed batch, from the killed run and from the second, has its audit event, and
    # together they account for every key exactly once.
    events = list(batches.order_by("id"))
    assert sum(event.data["rewrapped"] for event in events) == KEYS
    assert len(events) == KEYS // BATCH_SIZE
    assert {event.outcome for event in events} == {"success"}
    (summary,) = AuditEvent.objects.filter(action="provider_key.rewrapped")
    assert summary.data["rewrapped"] == KEYS - done_when_killed
    assert summary.data["remaining"] == 0


SHOW_BROKER_OPTIONS = (
    "import django; django.setup(); from config.celery import app; "
    "print(app.conf.task_acks_late, app.conf.task_reject_on_worker_lost, "
    "sorted(app.conf.broker_transport_options.items()))"
)


@pytest.mark.own_environment
def test_the_broker_redelivers_within_the_configured_visibility_timeout(tmp_path):
    result = start_settings(
        tmp_path,
        code=SHOW_BROKER_OPTIONS,
        REDIS_URL="redis://127.0.0.1:6379/6",
        CELERY_VISIBILITY_TIMEOUT_SECONDS="400",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "True True [('unacked_restore_interval', 10), ('unacked_restore_throttle', 1), ('visibility_timeout', 400)]"
    )
    default = start_settings(tmp_path, code=SHOW_BROKER_OPTIONS, REDIS_URL="redis://127.0.0.1:6379/6")
    assert "('visibility_timeout', 360)" in default.stdout, default.stderr


@pytest.mark.own_environment
def test_the_visibility_timeout_must_outlast_the_longest_task(tmp_path):
    result = start_settings(tmp_path, CELERY_TASK_TIME_LIMIT="600", CELERY_VISIBILITY_TIMEOUT_SECONDS="300")
    assert result.returncode != 0
    assert "CELERY_VISIBILITY_TIMEOUT_SECONDS must be longer than CELERY_TASK_TIME_LIMIT" in result.stderr
