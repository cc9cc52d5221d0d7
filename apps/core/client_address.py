"""The client's address: the one place every door (Django views, axes, /mcp) reads it from.

X-Forwarded-For is written by whoever sent the request, so it is believed only as far as our own
proxies vouch for it. With TRUSTED_PROXY_COUNT=0 (the default) the address is the socket's peer
and the header is ignored. With N trusted proxies, each appends the address it received the
request from, so the Nth entry from the right is the one our outermost proxy saw; anything to
its left is the client's own claim. Run uvicorn with --no-proxy-headers: its own rewriting of the
peer address from X-Forwarded-For would happen before this function could refuse it.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from django.conf import settings

UNKNOWN_ADDRESS = "0.0.0.0"  # noqa: S104 - a placeholder key for counters, never bound to


def _normalise(raw: str) -> str | None:
    """'203.0.113.7', '203.0.113.7:5555', '[2001:db8::1]:443' -> the bare address, or None."""
    candidate = raw.strip()
    if candidate.startswith("["):
        candidate = candidate[1:].partition("]")[0]
    elif candidate.count(":") == 1:
        candidate = candidate.partition(":")[0]
    # No address is longer (IPv6 with an IPv4 tail and a zone aside); longer text is not kept in the cache.
    return _address(candidate) if len(candidate) <= 45 else _address.__wrapped__(candidate)


# Every request parses its peer's address, nearly always one of a few; parsing was most of this
# module's cost. Bounded, and only short text is kept, so a client inventing addresses cannot grow it.
@functools.lru_cache(maxsize=4096)
def _address(candidate: str) -> str | None:
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return None


def client_address_from(*, peer: str | None, forwarded_for: Iterable[str], trusted_proxies: int) -> str:
    """The address to count and audit, from the socket peer and every X-Forwarded-For header value."""
    peer_address = _normalise(peer or "") or UNKNOWN_ADDRESS
    if trusted_proxies <= 0:
        return peer_address
    hops = [hop for value in forwarded_for for hop in value.split(",") if hop.strip()]
    if not hops:
        return peer_address
    # Fewer hops than proxies: the request skipped an outer proxy, so every entry was written by one
    # of ours and the leftmost is the peer the outermost reached proxy saw.
    chosen = hops[-trusted_proxies] if len(hops) >= trusted_proxies else hops[0]
    # A malformed entry where a trusted proxy should have written an address: trust nothing in it.
    return _normalise(chosen) or peer_address


def client_address(request: Any) -> str:
    """From a Django HttpRequest or DRF Request (also AXES_CLIENT_IP_CALLABLE)."""
    meta: Mapping[str, str] = request.META
    forwarded = meta.get("HTTP_X_FORWARDED_FOR")
    return client_address_from(
        peer=meta.get("REMOTE_ADDR"),
        forwarded_for=[forwarded] if forwarded else [],
        trusted_proxies=settings.TRUSTED_PROXY_COUNT,
    )


def client_address_from_scope(scope: Mapping[str, Any]) -> str:
    """From an ASGI HTTP scope (the /mcp app, which never becomes a Django request)."""
    client = scope.get("client")
    forwarded = [
        value.decode("latin-1") for name, value in scope.get("headers", []) if name.lower() == b"x-forwarded-for"
    ]
    return client_address_from(
        peer=client[0] if client else None, forwarded_for=forwarded, trusted_proxies=settings.TRUSTED_PROXY_COUNT
    )
