"""Exact Host and Origin matching for /mcp (the SDK's `name:*` is a prefix match)."""

from __future__ import annotations

import pytest

from apps.mcp_tools.transport.rebinding import host_allowed, origin_allowed

HOSTS = ["localhost", "localhost:*", "127.0.0.1", "127.0.0.1:*", "[::1]", "[::1]:*", "gateway.example.com:8443"]
ORIGINS = ["https://gateway.example.com", "http://localhost:*", "http://127.0.0.1:*"]


@pytest.mark.parametrize(
    "host", ["localhost", "LOCALHOST:8000", "127.0.0.1", "127.0.0.1:18200", "[::1]:8000", "gateway.example.com:8443"]
)
def test_it_allows_listed_hosts_with_a_numeric_port(host):
    assert host_allowed(host, HOSTS)


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1:18200.evil",
        "127.0.0.1:abc",
        "127.0.0.1:",
        "127.0.0.1:0",
        "127.0.0.1:65536",
        "127.0.0.1:\uff18\uff10",  # full-width digits are digits to str.isdigit, not to a port
        "127.0.0.1:80:80",
        "127.0.0.1.evil",
        "evil.example",
        "gateway.example.com",
        "gateway.example.com:443",
        "[::1]x",
        "",
        None,
    ],
)
def test_it_refuses_hosts_that_only_start_like_an_allowed_one(host):
    assert not host_allowed(host, HOSTS)


@pytest.mark.parametrize("origin", [None, "", "https://gateway.example.com", "http://localhost:5173"])
def test_it_allows_listed_origins_and_a_missing_one(origin):
    assert origin_allowed(origin, ORIGINS)


@pytest.mark.parametrize(
    "origin",
    [
        "http://localhost:5173.evil.example",
        "http://localhost:abc",
        "http://localhost",
        "https://localhost:5173",
        "http://gateway.example.com",
        "https://gateway.example.com:444",
        "https://gateway.example.com/path",
        "null",
    ],
)
def test_it_refuses_origins_that_only_start_like_an_allowed_one(origin):
    assert not origin_allowed(origin, ORIGINS)
