"""Exact Host and Origin matching for /mcp's DNS-rebinding protection.

The SDK's checker treats `name:*` as "starts with `name:`", so `127.0.0.1:8000.evil` and
`127.0.0.1:abc` pass. Here a Host is parsed into a name and an optional port; the port must be a
decimal number from 1 to 65535, and `name:*` means exactly that name with any such port.
Patterns: `name` (no port), `name:8000` (that port), `name:*` (any port); IPv6 as `[::1]`.
Origins are `scheme://` plus the same host forms.
"""

from __future__ import annotations

import re

_PORT = re.compile(r"[0-9]{1,5}")
_NAME = re.compile(r"[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]")
ANY_PORT = "*"


def _split(authority: str, *, pattern: bool) -> tuple[str, str | None] | None:
    """`name[:port]` -> (lower-case name, port or None); None when it is not a well-formed authority."""
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            return None
        name, rest = authority[: end + 1], authority[end + 1 :]
    else:
        name, colon, port = authority.partition(":")
        rest = colon + port
    if not _NAME.fullmatch(name):
        return None
    if not rest:
        return name.lower(), None
    if not rest.startswith(":"):
        return None
    port = rest[1:]
    if pattern and port == ANY_PORT:
        return name.lower(), ANY_PORT
    if not _PORT.fullmatch(port) or not 1 <= int(port) <= 65535:
        return None
    return name.lower(), str(int(port))


def host_allowed(host: str | None, patterns: list[str]) -> bool:
    if not host:
        return False
    actual = _split(host.strip(), pattern=False)
    if actual is None:
        return False
    for allowed in patterns:
        expected = _split(allowed.strip(), pattern=True)
        if expected is None:
            continue
        if expected[0] == actual[0] and (expected[1] == actual[1] or (expected[1] == ANY_PORT and actual[1])):
            return True
    return False


def origin_allowed(origin: str | None, patterns: list[str]) -> bool:
    """A missing Origin passes (desktop and server clients send none), as in the SDK."""
    if not origin:
        return True
    scheme, sep, authority = origin.strip().partition("://")
    if not sep or scheme.lower() not in {"http", "https"}:
        return False
    for allowed in patterns:
        allowed_scheme, allowed_sep, allowed_authority = allowed.strip().partition("://")
        if allowed_sep and allowed_scheme.lower() == scheme.lower() and host_allowed(authority, [allowed_authority]):
            return True
    return False
