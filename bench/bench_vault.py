"""Key vault benchmark: encrypt+store and load+decrypt per key, and re-wrap throughput.

    DJANGO_SETTINGS_MODULE=config.settings_test DATABASE_URL=postgres://... python bench/bench_vault.py [--keys N]

It runs against the configured database (migrated first if needed) under throwaway bench
users holding five keys each (like real users: a handful each, not thousands), through the
real services (format check, fingerprint, duplicate check, insert, seal, update, audit event).
Everything happens in one outer transaction that is rolled back at the end, so the database,
including the append-only audit trail, is left exactly as it was; each operation runs in its
own savepoint, so the figures exclude only the final COMMIT's flush.
"""

from __future__ import annotations

import argparse
import base64
import os
import secrets
import statistics
import string
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test.utils import override_settings  # noqa: E402

from apps.accounts.models import User  # noqa: E402
from apps.keys import crypto, services  # noqa: E402
from apps.keys.models import ProviderKey  # noqa: E402

ALPHABET = string.ascii_letters + string.digits
KEYS_PER_USER = 5


class Rollback(Exception):
    pass


def fake_key() -> str:
    return "sk-proj-" + "".join(secrets.choice(ALPHABET) for _ in range(156))


def summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return (
        f"{name:<34} n={len(samples):<6} median={statistics.median(ordered) * 1000:7.3f} ms   p95={p95 * 1000:7.3f} ms"
    )


def run(keys: int, batch_size: int) -> None:
    master_v1 = "v1:" + base64.b64encode(os.urandom(32)).decode()
    master_v2 = "v2:" + base64.b64encode(os.urandom(32)).decode()
    secrets_by_id: dict[int, str] = {}
    store_times: list[float] = []
    load_times: list[float] = []
    seal_times: list[float] = []
    open_times: list[float] = []

    print(f"database: {connection.vendor} {connection.settings_dict['NAME']}, keys: {keys}")
    try:
        with transaction.atomic(), override_settings(VAULT_MASTER_KEYS=master_v1):
            run_id = secrets.token_hex(4)
            owners = [
                User.objects.create(username=f"bench-vault-{run_id}-{number}")
                for number in range((keys + KEYS_PER_USER - 1) // KEYS_PER_USER)
            ]

            aad = crypto.associated_data(owner_id=owners[0].pk, provider="openai", key_id=1)
            for _ in range(keys):
                plaintext = fake_key()
                started = time.perf_counter()
                sealed = crypto.seal(plaintext, aad=aad)
                seal_times.append(time.perf_counter() - started)
                started = time.perf_counter()
                crypto.open_sealed(sealed, aad=aad)
                open_times.append(time.perf_counter() - started)

            for index in range(keys):
                plaintext = fake_key()
                owner = owners[index // KEYS_PER_USER]
                started = time.perf_counter()
                with transaction.atomic():
                    key, _ = services.provider_key_create(
                        actor=owner, owner=owner, provider="openai", api_key=plaintext, label=f"bench {index}"
                    )
                store_times.append(time.perf_counter() - started)
                secrets_by_id[key.pk] = plaintext

            for key_id, plaintext in secrets_by_id.items():
                started = time.perf_counter()
                with transaction.atomic():
                    key = ProviderKey(pk=key_id)
                    assert services.provider_key_plaintext_for_call(key=key) == plaintext
                load_times.append(time.perf_counter() - started)

            with override_settings(VAULT_MASTER_KEYS=f"{master_v2},{master_v1}"):
                started = time.perf_counter()
                with transaction.atomic():
                    result = services.provider_keys_rewrap(batch_size=batch_size)
                rewrap_seconds = time.perf_counter() - started
            assert result["rewrapped"] == keys and result["remaining"] == 0, result
            with override_settings(VAULT_MASTER_KEYS=master_v2):
                sample = list(secrets_by_id.items())[:: max(1, keys // 100)]
                for key_id, plaintext in sample:
                    assert services.provider_key_plaintext_for_call(key=ProviderKey(pk=key_id)) == plaintext

            print(summary("crypto only: seal (encrypt+wrap)", seal_times))
            print(summary("crypto only: open (unwrap+decrypt)", open_times))
            print(summary("encrypt+store (provider_key_create)", store_times))
            print(summary("load+decrypt (plaintext_for_call)", load_times))
            print(
                f"{'rewrap (provider_keys_rewrap)':<34} n={keys:<6} {rewrap_seconds:.3f} s"
                f"   {keys / rewrap_seconds:,.0f} keys/s   (batch size {batch_size}, {result['batches']} batches)"
            )
            raise Rollback
    except Rollback:
        print("rolled back: no rows, audit events or users left behind")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keys", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=settings.VAULT_REWRAP_BATCH_SIZE)
    args = parser.parse_args()
    call_command("migrate", verbosity=0, interactive=False)
    run(args.keys, args.batch_size)


if __name__ == "__main__":
    main()
