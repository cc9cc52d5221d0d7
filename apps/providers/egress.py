"""Outbound requests to user-supplied base URLs: the defence against server-side request forgery.

A stored key is sent to whatever host its base URL names, so that URL is checked twice:
when it is stored (scheme, allowlist, every address the host resolves to) and again at
connection time by a network backend that resolves the host itself, refuses private, loopback,
link-local and reserved addresses, and connects to the address it checked. Checking at connect
time closes the DNS-rebinding gap between the first check and the request. Redirects are never
followed and environment proxies are ignored, since either would send the key somewhere unchecked.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
import ssl
from collections.abc import Iterable
from urllib.parse import urlsplit

import httpcore2
import httpx2
from django.conf import settings

from apps.core.errors import InvalidInput

BASE_URL_MAX_LENGTH = 300


class EgressRefused(Exception):
    """The destination is not one the gateway may send a key to; the message is safe to show."""


IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def _ipv4_inside(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 addresses an IPv6 transition form carries, which a relay or the stack delivers to.

    6to4 (2002::/16), Teredo (2001::/32: its server and its client) and IPv4-compatible (::/96);
    IPv4-mapped is the caller's. NAT64 (64:ff9b::/96) is refused as not global on its own.
    """
    if ip.sixtofour is not None:
        return (ip.sixtofour,)
    if ip.teredo is not None:
        return ip.teredo
    if ip in IPV4_COMPATIBLE:
        return (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF),)
    return ()


def _ip_is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    blocked = ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved or ip.is_multicast
    return ip.is_global and not (blocked or ip.is_unspecified)


def address_is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv4Address):
        return _ip_is_public(ip)
    if ip.ipv4_mapped is not None:
        # The stack's own spelling of an IPv4 address: that address is all there is to judge.
        return _ip_is_public(ip.ipv4_mapped)
    # `2002:7f00:1::` is 127.0.0.1 to a 6to4 relay, though the IPv6 registry calls 2002::/16 global:
    # a transition form passes only if every IPv4 address inside it and the IPv6 address both pass.
    # 6to4 is the exception: the block is nothing but the IPv4 address it carries, and Python's own
    # verdict on it changed within 3.11 (3.11.2, Debian 12's, calls all of 2002::/16 private).
    if ip.sixtofour is not None:
        return _ip_is_public(ip.sixtofour)
    return all(_ip_is_public(inner) for inner in _ipv4_inside(ip)) and _ip_is_public(ip)


def host_addresses(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise EgressRefused("The base URL's host name does not resolve.") from None
    addresses = []
    for info in infos:
        address = str(info[4][0]).split("%", 1)[0]
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise EgressRefused("The base URL's host name does not resolve.")
    return addresses


def addresses_check(addresses: Iterable[str]) -> None:
    if settings.PROVIDER_ALLOW_PRIVATE_NETWORKS:
        return
    for address in addresses:
        if not address_is_public(address):
            # Every address must be public: a resolver may hand out the private one next time.
            raise EgressRefused(
                "The base URL points at a private, loopback, link-local or reserved network address, "
                "which this server does not call."
            )


def host_allowed(host: str) -> bool:
    allowed = settings.OPENAI_COMPATIBLE_ALLOWED_HOSTS
    if not allowed:
        return True
    host = host.lower().rstrip(".")
    for entry in allowed:
        if entry.startswith("*.") and host.endswith(entry[1:]):
            return True
        if host == entry:
            return True
    return False


def base_url_clean(raw: str) -> str:
    """Validate a user-supplied base URL for storage; InvalidInput names what is wrong."""
    url = (raw or "").strip().rstrip("/")

    def refuse(message: str) -> InvalidInput:
        return InvalidInput("The base URL is not allowed.", details={"base_url": [message]})

    if not url:
        raise refuse("An OpenAI-compatible key needs the server's base URL, e.g. https://api.example.com/v1.")
    if len(url) > BASE_URL_MAX_LENGTH:
        raise refuse(f"At most {BASE_URL_MAX_LENGTH} characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise refuse("The URL is malformed.") from None
    schemes = {"https"} if settings.PROVIDER_REQUIRE_HTTPS else {"https", "http"}
    if parts.scheme.lower() not in schemes:
        raise refuse("Only https:// URLs are allowed." if schemes == {"https"} else "Use an http(s):// URL.")
    if not parts.hostname:
        raise refuse("The URL names no host.")
    if parts.username or parts.password:
        raise refuse("Credentials in the URL are not allowed; the key is sent separately.")
    if parts.query or parts.fragment:
        raise refuse("The URL may not carry a query string or fragment.")
    if not host_allowed(parts.hostname):
        raise refuse("This host is not on the server's list of allowed OpenAI-compatible hosts.")
    try:
        addresses_check(host_addresses(parts.hostname, port or (443 if parts.scheme == "https" else 80)))
    except EgressRefused as exc:
        raise refuse(str(exc)) from None
    return url


class _CheckedBackend(httpcore2.SyncBackend):
    """Resolve, check every address, then connect to a checked address (not the name again)."""

    def connect_tcp(self, host: str, port: int, timeout=None, local_address=None, socket_options=None):
        try:
            addresses = host_addresses(host, port)
            addresses_check(addresses)
        except EgressRefused as exc:
            raise httpcore2.ConnectError(f"egress refused: {exc}") from exc
        last_error: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except httpcore2.ConnectError as exc:
                last_error = exc
        raise last_error or httpcore2.ConnectError("no address could be reached")


@functools.lru_cache(maxsize=1)
def _system_trust() -> ssl.SSLContext:
    """httpx's default verifying context (the system's CA bundle, the environment ignored as by the
    transport below), built once per process: loading the bundle costs about 25 ms of CPU, and every
    provider call and key check builds a client. A context is safe to share between threads; a CA
    bundle updated on disk is read at the next start."""
    return httpx2.create_ssl_context(verify=True, trust_env=False)


def guarded_http_client(*, timeout: float, verify: ssl.SSLContext | bool = True) -> httpx2.Client:
    """An HTTP client for the provider SDKs that only reaches checked, public addresses.

    `verify`: an SSL context trusting a private CA (tests, a corporate CA); never False in production."""
    transport = httpx2.HTTPTransport(trust_env=False, verify=_system_trust() if verify is True else verify)
    # httpx offers no public hook for the pool's network backend; swap in ours. TLS still
    # verifies the host name from the URL (SNI and certificate), not the address we connect to.
    transport._pool._network_backend = _CheckedBackend()
    return httpx2.Client(transport=transport, timeout=timeout, follow_redirects=False, trust_env=False)


def refused_by_egress(exc: BaseException) -> str | None:
    """If an SDK connection error was our refusal, return its safe message."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, EgressRefused):
            return str(current)
        current = current.__cause__ or current.__context__
    return None
