"""The secret generators run in a production container before any secret exists."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from config.env import vault_keyring

ROOT = Path(__file__).resolve().parent.parent


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    # Nothing but what the image itself sets (Dockerfile ENV): no secrets, no database, no hosts.
    environment = {"PATH": os.environ["PATH"], "APP_ENV": "production", **env}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=60
    )


def env_values(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#"))
    return {name: value for name, value in pairs}


def test_generate_secrets_prints_every_production_secret_with_no_configuration():
    result = manage("generate_secrets")

    assert result.returncode == 0, result.stderr
    values = env_values(result.stdout)
    assert set(values) == {"SECRET_KEY", "POSTGRES_PASSWORD", "VAULT_MASTER_KEYS", "VAULT_FINGERPRINT_PEPPER",
                           "PAT_PEPPER", "AUDIT_CHAIN_KEYS"}  # fmt: skip
    assert len(values["SECRET_KEY"]) >= 50
    assert len(values["PAT_PEPPER"]) >= 32 and len(values["VAULT_FINGERPRINT_PEPPER"]) >= 32
    assert vault_keyring("VAULT_MASTER_KEYS", values["VAULT_MASTER_KEYS"])[0][0] == "v1"
    # Values go into .env and into a postgres:// URL unquoted.
    assert all(" " not in value and "$" not in value for value in values.values())
    assert values["PAT_PEPPER"] != values["VAULT_FINGERPRINT_PEPPER"]
    assert env_values(manage("generate_secrets").stdout)["SECRET_KEY"] != values["SECRET_KEY"]


def test_vault_generate_key_runs_in_production_with_no_configuration():
    result = manage("vault_generate_key")

    assert result.returncode == 0, result.stderr
    (entry,) = result.stdout.split()
    assert vault_keyring("VAULT_MASTER_KEYS", entry)[0][0] == "v1"
    assert "vault_rewrap" in result.stderr


def test_vault_generate_key_picks_the_version_after_the_configured_keyring(tmp_path):
    keys = tmp_path / "keys"
    keys.write_text("v2:" + "B" * 43 + "=,v1:" + "A" * 43 + "=\n")

    result = manage("vault_generate_key", VAULT_MASTER_KEYS_FILE=str(keys))

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("v3:")
    refused = manage("vault_generate_key", "--key-version", "v2", VAULT_MASTER_KEYS_FILE=str(keys))
    assert refused.returncode == 1
    assert refused.stderr.strip() == "CommandError: Version v2 is already in VAULT_MASTER_KEYS; pick another."


def test_vault_generate_key_reads_the_development_key_in_var(tmp_path):
    (tmp_path / "vault-master-keys").write_text("v4:" + "A" * 43 + "=\n")

    result = manage("vault_generate_key", APP_ENV="development", VAR_DIR=str(tmp_path))

    assert result.stdout.startswith("v5:")


def test_master_keys_come_from_one_generator():
    from apps.keys import crypto, keyring
    from config import env, secret_generators

    assert env.master_key_entry is secret_generators.master_key_entry is keyring.master_key_entry
    assert not hasattr(crypto, "master_key_generate")
    [(version, material)] = keyring.vault_keyring("VAULT_MASTER_KEYS", keyring.master_key_entry("v9"))
    assert version == "v9" and len(material) == keyring.VAULT_KEY_BYTES
    assert keyring.vault_keyring("VAULT_MASTER_KEYS", env.new_master_key())[0][0] == "v1"
