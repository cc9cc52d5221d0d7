"""Who may be an OAuth client: Client ID Metadata Documents and the redirect URIs we accept.

A CIMD `client_id` is an https URL the client controls; fetching it is an outbound request to a
user-supplied address, so it goes through the same guard as provider base URLs
(apps.providers.egress: every resolved address public, connect to the checked address, no redirects,
no environment proxies), bounded in size (OAUTH_CIMD_MAX_BYTES) and in total time
(OAUTH_CIMD_TIMEOUT_SECONDS, also against a slow drip), and with the database connection handed
back first: the request does not hold one while it waits on the network. Every refusal is audited.
The toolkit caches the result per the document's Cache-Control (at most 24 h) and backs off failures.
"""

from __future__ import annotations

import ipaddress
import json
import ssl
import time
from typing import Any
from urllib.parse import urlsplit

import httpx2
from django.conf import settings
from oauth2_provider import cimd

from apps.accounts.oauth.events import oauth_event_record
from apps.core.database import connections_release
from apps.providers.egress import guarded_http_client, refused_by_egress

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


def redirect_uri_refusal(uri: Any) -> str | None:
    """Why a client may not register this redirect URI, or None: https, http on loopback only
    (RFC 8252 §7.3), or a native app's private-use scheme (OAUTH_NATIVE_REDIRECT_SCHEMES)."""
    if not isinstance(uri, str) or not uri or len(uri) > 2000:
        return "A redirect URI must be a non-empty string."
    try:
        parts = urlsplit(uri)
        host = parts.hostname
    except ValueError:
        return f"{uri!r} is not a valid URI."
    if parts.fragment or "#" in uri:
        return f"{uri!r} has a fragment."
    scheme = parts.scheme.lower()
    if scheme == "https":
        return None if host else f"{uri!r} names no host."
    if scheme == "http":
        if host in LOOPBACK_HOSTS or _is_loopback_address(host):
            return None
        return f"{uri!r}: plain http is allowed only for loopback addresses (127.0.0.1, [::1], localhost)."
    if scheme in settings.OAUTH_NATIVE_REDIRECT_SCHEMES:
        return None
    return f"{uri!r}: the scheme {scheme!r} is not accepted."


def _is_loopback_address(host: str | None) -> bool:
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cimd_refusal_record(*, client_id: str, reason: str) -> None:
    oauth_event_record("oauth.cimd_refused", client=client_id, outcome="denied", reason=reason)


def _verify() -> ssl.SSLContext | bool:
    if not settings.OAUTH_CIMD_CA_FILE:
        return True
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=settings.OAUTH_CIMD_CA_FILE)
    return context


class GuardedMetadataFetcher:
    """The toolkit's CIMD_METADATA_FETCHER: (metadata, max_age) or CIMDError (audited)."""

    def fetch(self, client_id: str) -> tuple[dict, int]:
        try:
            return self._fetch(client_id)
        except cimd.CIMDError as exc:
            cimd_refusal_record(client_id=client_id, reason=str(exc))
            raise

    def _fetch(self, client_id: str) -> tuple[dict, int]:
        cimd._validate_client_id_url(client_id)
        max_bytes = settings.OAUTH_CIMD_MAX_BYTES
        timeout = float(settings.OAUTH_CIMD_TIMEOUT_SECONDS)
        deadline = time.monotonic() + timeout
        # The fetch may take seconds: no database connection is held meanwhile.
        connections_release()
        body = b""
        try:
            with (
                guarded_http_client(timeout=timeout, verify=_verify()) as client,
                client.stream("GET", client_id, headers={"Accept": "application/json"}) as response,
            ):
                if response.is_redirect:
                    raise cimd.CIMDError("the client_id document is served through a redirect, which is not followed")
                if response.status_code != 200:
                    raise cimd.CIMDError(f"the client_id document answered HTTP {response.status_code}")
                media_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
                if media_type != "application/json" and not (
                    media_type.startswith("application/") and media_type.endswith("+json")
                ):
                    raise cimd.CIMDError("the client_id document is not JSON")
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > max_bytes:
                    raise cimd.CIMDError(f"the client_id document is larger than {max_bytes} bytes")
                for chunk in response.iter_bytes():
                    body += chunk
                    if len(body) > max_bytes:
                        raise cimd.CIMDError(f"the client_id document is larger than {max_bytes} bytes")
                    if time.monotonic() > deadline:
                        raise cimd.CIMDError(f"the client_id document took longer than {timeout:g} s")
                cache_control = response.headers.get("cache-control")
        except httpx2.TimeoutException:
            raise cimd.CIMDError(f"the client_id document took longer than {timeout:g} s") from None
        except httpx2.HTTPError as exc:
            refused = refused_by_egress(exc)
            if refused is not None:
                raise cimd.CIMDError(f"the client_id host is not one this server calls: {refused}") from None
            raise cimd.CIMDError("the client_id document could not be fetched") from None
        if time.monotonic() > deadline:
            raise cimd.CIMDError(f"the client_id document took longer than {timeout:g} s")
        try:
            metadata = json.loads(body)
        except ValueError:
            raise cimd.CIMDError("the client_id document is not valid JSON") from None
        if not isinstance(metadata, dict):
            raise cimd.CIMDError("the client_id document is not a JSON object")
        if metadata.get("client_id") != client_id:
            raise cimd.CIMDError("the document's client_id is not the URL it was fetched from")
        redirect_uris = metadata.get("redirect_uris")
        if not isinstance(redirect_uris, list) or not redirect_uris:
            raise cimd.CIMDError("the document lists no redirect_uris")
        for uri in redirect_uris:
            refusal = redirect_uri_refusal(uri)
            if refusal is not None:
                raise cimd.CIMDError(refusal)
        return metadata, cimd._effective_max_age(cache_control)
