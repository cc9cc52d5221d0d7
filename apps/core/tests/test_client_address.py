"""The client address comes from the socket, and from X-Forwarded-For only as far as our proxies vouch."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from apps.core.client_address import UNKNOWN_ADDRESS, client_address, client_address_from, client_address_from_scope


@pytest.mark.parametrize(
    ("forwarded", "proxies", "expected"),
    [
        # No trusted proxy: the header is the client's own claim and is ignored.
        (["198.51.100.1"], 0, "10.0.0.9"),
        (["198.51.100.1, 198.51.100.2"], 0, "10.0.0.9"),
        # One proxy: it appended the peer it saw; everything left of that is the client's claim.
        (["spoofed, 203.0.113.7"], 1, "203.0.113.7"),
        (["203.0.113.7"], 1, "203.0.113.7"),
        # Two proxies: the second from the right is what the outer proxy saw.
        (["spoofed, 203.0.113.7, 10.0.0.2"], 2, "203.0.113.7"),
        # Fewer entries than proxies: every entry came from one of ours; the leftmost is the client.
        (["203.0.113.7"], 2, "203.0.113.7"),
        # Several header lines count as one list, in order.
        (["spoofed", "203.0.113.7"], 1, "203.0.113.7"),
        # Ports and IPv6 brackets from a proxy are stripped.
        (["203.0.113.7:5555"], 1, "203.0.113.7"),
        (["[2001:db8::1]:443"], 1, "2001:db8::1"),
        (["2001:db8::1"], 1, "2001:db8::1"),
        # Garbage where a trusted proxy should have written an address: fall back to the socket.
        (["not-an-address"], 1, "10.0.0.9"),
        ([], 1, "10.0.0.9"),
    ],
)
def test_it_believes_forwarded_for_only_as_far_as_the_trusted_proxies(forwarded, proxies, expected):
    assert client_address_from(peer="10.0.0.9", forwarded_for=forwarded, trusted_proxies=proxies) == expected


def test_a_missing_peer_is_a_fixed_placeholder_not_an_error():
    assert client_address_from(peer=None, forwarded_for=[], trusted_proxies=0) == UNKNOWN_ADDRESS


def test_django_requests_and_asgi_scopes_give_the_same_answer(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.9", HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.7")
    scope = {"type": "http", "client": ("10.0.0.9", 1234), "headers": [(b"x-forwarded-for", b"1.1.1.1, 203.0.113.7")]}
    assert client_address(request) == client_address_from_scope(scope) == "203.0.113.7"

    settings.TRUSTED_PROXY_COUNT = 0
    assert client_address(request) == client_address_from_scope(scope) == "10.0.0.9"


@pytest.mark.own_environment
def test_production_refuses_a_bad_proxy_count(tmp_path):
    from tests.startup import start_settings

    assert start_settings(tmp_path, TRUSTED_PROXY_COUNT="-1").returncode != 0
    assert start_settings(tmp_path, TRUSTED_PROXY_COUNT="two").returncode != 0
    assert start_settings(tmp_path, TRUSTED_PROXY_COUNT="1").returncode == 0


def test_every_way_we_start_uvicorn_leaves_x_forwarded_for_to_the_app():
    # uvicorn's --proxy-headers (its default) rewrites the peer address from X-Forwarded-For for
    # requests from 127.0.0.1 before the app runs, which let a local caller reset the login lockout
    # with every request. TRUSTED_PROXY_COUNT must be the only knob.
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[3]
    # The other files start the web tier through scripts/web.sh, which holds the one uvicorn command.
    for name in ("Dockerfile", "docker-compose.yml", "scripts/run.sh"):
        text = (root / name).read_text()
        assert "scripts/web.sh" in text, name
        assert re.search(r"\buvicorn\b.*config\.asgi", text) is None, name
    commands = {"scripts/web.sh": (root / "scripts/web.sh").read_text().replace("\\\n", " ")}
    for name, text in commands.items():
        starts = [
            line
            for line in text.splitlines()
            if not line.lstrip().startswith("#") and re.search(r"\buvicorn\b.*config\.asgi", line)
        ]
        assert starts, name
        for line in starts:
            assert "--no-proxy-headers" in line, name
            assert re.search(r"(?<!no-)proxy-headers", line.replace("--no-proxy-headers", "")) is None, name
