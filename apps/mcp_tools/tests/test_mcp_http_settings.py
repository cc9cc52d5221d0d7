"""/mcp transport settings: rebinding protection comes from ALLOWED_HOSTS, and fails loudly when it cannot."""

from __future__ import annotations

import subprocess

import pytest
from django.conf import settings

from tests.startup import start_settings

# Each test starts the settings in a fresh interpreter with an environment of its own.
pytestmark = pytest.mark.own_environment


def _settings_with(**overrides: str) -> subprocess.CompletedProcess:
    program = (
        "import config.settings as s; "
        "print(s.MCP_ALLOWED_HOSTS); print(s.MCP_ALLOWED_ORIGINS); print(s.MCP_RESOURCE_URL)"
    )
    return start_settings(
        settings.VAR_DIR,
        code=program,
        **{"PUBLIC_BASE_URL": "https://todo.example.com", "ALLOWED_HOSTS": None, **overrides},
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
