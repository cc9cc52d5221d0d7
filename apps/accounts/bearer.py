"""The bearer door: `Authorization: Bearer <JWT | personal access token | OAuth access token>` for REST and /mcp.

Both doors call `bearer_authenticate`, so a token is judged the same way everywhere, and failures
are handled once: counted per client address (a moving window; past BEARER_FAILURE_LIMIT the
failures are answered 429 with Retry-After instead of 401) and audited in aggregate, at most one
`access_token.authentication_failed` event per address and BEARER_FAILURE_AUDIT_WINDOW_SECONDS,
plus one `access_token.authentication_throttled` event when an address crosses the limit.

A token verified in the last PRINCIPAL_CACHE_SECONDS is answered from this process's memory
(apps.accounts.principal_cache, which states how soon a revocation takes effect).

Only failures are counted and refused: a valid token from the same address still works, so a
guesser behind a shared address (office NAT, carrier-grade NAT) cannot lock its neighbours out,
and a successful request costs no extra round trip.
"""

from __future__ import annotations

import logging

from django.conf import settings

from apps.accounts.identity import BearerIdentity
from apps.accounts.models import OAUTH_ACCESS_PREFIX, PAT_PREFIX
from apps.accounts.oauth.tokens import oauth_access_authenticate
from apps.accounts.pats import pat_authenticate, pat_mask
from apps.accounts.principal_cache import principal_cache_get, principal_cache_put
from apps.accounts.tokens import access_token_authenticate
from apps.audit.services import audit_event_record
from apps.core.errors import RateLimited, ServiceUnavailable, Unauthenticated
from apps.core.throttle import throttle_first_in_window, throttle_hit

logger = logging.getLogger(__name__)

# The counting key for callers with no network address (the stdio server, a management command).
LOCAL_CALLER = "local"


def bearer_authenticate(*, raw_token: str, client_address: str | None) -> BearerIdentity:
    """A presented bearer token -> who it is, or Unauthenticated (401) / RateLimited (429)."""
    raw_token = (raw_token or "").strip()
    if not raw_token:
        raise Unauthenticated("A bearer token is required.", code="token_missing")
    cached = principal_cache_get(raw_token)
    if cached is not None:
        return cached
    try:
        if raw_token.startswith(PAT_PREFIX):
            token = pat_authenticate(raw_token=raw_token)
            identity = BearerIdentity(user=token.user, personal_token=token)
        elif raw_token.startswith(OAUTH_ACCESS_PREFIX):
            oauth_token = oauth_access_authenticate(raw_token=raw_token)
            identity = BearerIdentity(user=oauth_token.user, oauth_token=oauth_token)
        else:
            user, jwt = access_token_authenticate(raw_token=raw_token)
            identity = BearerIdentity(user=user, jwt=jwt)
    except Unauthenticated as exc:
        bearer_failure_record(client_address=client_address or LOCAL_CALLER, raw_token=raw_token, error=exc)
        raise
    principal_cache_put(raw_token, identity)
    return identity


def bearer_failure_record(*, client_address: str, raw_token: str, error: Unauthenticated) -> None:
    """Count and (in aggregate) audit one refused token; raise RateLimited once the address is over."""
    window = settings.BEARER_FAILURE_AUDIT_WINDOW_SECONDS
    is_pat = raw_token.startswith(PAT_PREFIX)
    is_oauth = raw_token.startswith(OAUTH_ACCESS_PREFIX)
    if throttle_first_in_window(window_seconds=window, key=("bearer-failed-audit", client_address)):
        token_id = getattr(error, "token_id", None)
        audit_event_record(
            action="access_token.authentication_failed",
            actor=getattr(error, "owner", None),
            outcome="denied",
            target_type="access_token" if is_pat else ("oauth_token" if is_oauth else "jwt"),
            target_id=token_id if token_id is not None else "",
            data={
                "reason": error.code,
                # Never the token: a PAT's public prefix at most.
                "presented": pat_mask(raw_token) if is_pat else ("[oauth token]" if is_oauth else "[jwt]"),
                "address": client_address,
                # Later failures from this address in the same window are counted, not written.
                "aggregated_window_seconds": window,
            },
        )
    try:
        throttle_hit(
            rate=settings.BEARER_FAILURE_LIMIT,
            key=("bearer-failed", client_address),
            message="Too many failed authentication attempts from this address; try again later.",
            code="too_many_failed_attempts",
        )
    except ServiceUnavailable:
        # The attempt is refused either way; without the counter it is refused with 401, not 503.
        logger.warning("Bearer failure not counted: the rate-limit store is unavailable.")
    except RateLimited as limited:
        if throttle_first_in_window(window_seconds=window, key=("bearer-throttled-audit", client_address)):
            audit_event_record(
                action="access_token.authentication_throttled",
                outcome="denied",
                data={
                    "address": client_address,
                    "limit": settings.BEARER_FAILURE_LIMIT,
                    "retry_after": limited.retry_after,
                },
            )
        raise
