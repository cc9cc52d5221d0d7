"""/mcp transport settings: rebinding protection comes from ALLOWED_HOSTS, and fails loudly when it cannot."""

from __future__ import annotations

import os
import subprocess
import sys

from django.conf import settings

PRODUCTION = {
    "APP_ENV": "production",
    "SECRET_KEY": "x" * 50,
    "PAT_PEPPER": "p" * 40,
    # Required in production by the key vault (merged from main), not under test here.
    "VAULT_MASTER_KEYS": "v1:" + "A" * 43 + "=",
    "VAULT_FINGERPRINT_PEPPER": "f" * 40,
    "PUBLIC_BASE_URL": "https://todo.example.com",
}


def _settings_with(**overrides: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MCP_", "ALLOWED_HOSTS"))}
    env.update({**PRODUCTION, **overrides})
    program = (
        "import config.settings as s; "
        "print(s.MCP_ALLOWED_HOSTS); print(s.MCP_ALLOWED_ORIGINS); print(s.MCP_RESOURCE_URL)"
    )
    return subprocess.run(
        [sys.executable, "-c", program],
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_it_derives_the_allowed_hosts_and_origins_from_the_deployment():
    loaded = _settings_with(ALLOWED_HOSTS="todo.example.com,.internal.example")

    assert loaded.returncode == 0, loaded.stderr
    hosts, origins, resource = loaded.stdout.splitlines()
    assert hosts == "['todo.example.com', 'todo.example.com:*', 'internal.example', 'internal.example:*']"
    assert origins == "['https://todo.example.com']"  # no localhost origins outside development
    assert resource == "https://todo.example.com/mcp"


def test_it_refuses_a_wildcard_allowed_hosts_without_explicit_mcp_hosts():
    refused = _settings_with(ALLOWED_HOSTS="*")
    explicit = _settings_with(ALLOWED_HOSTS="*", MCP_ALLOWED_HOSTS="todo.example.com")

    assert refused.returncode != 0 and "MCP_ALLOWED_HOSTS" in refused.stderr
    assert explicit.returncode == 0, explicit.stderr


def test_it_refuses_an_origin_that_is_not_an_origin():
    refused = _settings_with(ALLOWED_HOSTS="todo.example.com", MCP_ALLOWED_ORIGINS="https://todo.example.com/app")

    assert refused.returncode != 0 and "MCP origins" in refused.stderr
