"""One attempt at one candidate: the provider module's call, and its failures in the product's words.

SDK retries are off (retries are ours, in backoff.py, bounded and breaker-aware) and every call goes
through the address guard's HTTP client. The SDKs' own parsing is not trusted with the body: each
provider module reads the raw response and checks its shape, so a proxy's HTML page, a truncated
body or JSON of another shape is a failure with our own wording, and never reaches a caller. The
provider's error text is never used either: it can quote the key.
"""

from __future__ import annotations

import logging

from django.conf import settings

from apps.providers import egress
from apps.providers.calls import (
    BAD_REQUEST,
    EGRESS_REFUSED,
    KEY_REFUSED,
    QUOTA,
    RETRYABLE,
    Candidate,
    CompletionRequest,
    CompletionResponse,
    ProviderFailure,
)
from apps.providers.plugins.base import CONNECTION, TIMEOUT, Malformed, SdkFailure
from apps.providers.registry import provider_spec_get

logger = logging.getLogger(__name__)

# What reading a body that is not the provider's format raises (json.loads, a missing field, a wrong type).
_NOT_ITS_FORMAT = (Malformed, ValueError, KeyError, IndexError, TypeError, AttributeError)


def failure_from_sdk(failure: SdkFailure, exc: BaseException, name: str) -> ProviderFailure:
    """What the fallback chain does about a failure the provider module classified."""
    if failure.what == TIMEOUT:
        return ProviderFailure(RETRYABLE, f"{name} did not answer in time.")
    if failure.what == CONNECTION:
        refused = egress.refused_by_egress(exc)
        if refused:
            return ProviderFailure(EGRESS_REFUSED, refused)
        return ProviderFailure(RETRYABLE, f"Could not connect to {name}.")
    status = failure.status or 0
    if failure.key_refused:
        return ProviderFailure(KEY_REFUSED, f"{name} refused the key (HTTP {status}).", status_code=status)
    if failure.quota:
        return ProviderFailure(
            QUOTA, f"{name} says this account's quota is used up (HTTP {status}).", status_code=status
        )
    if status in (408, 409, 429) or status >= 500:
        what = "is rate-limiting this key" if status == 429 else "had a server-side problem"
        return ProviderFailure(
            RETRYABLE, f"{name} {what} (HTTP {status}).", status_code=status, retry_after=failure.retry_after
        )
    return ProviderFailure(BAD_REQUEST, f"{name} refused the request (HTTP {status}).", status_code=status)


def completion_call(candidate: Candidate, request: CompletionRequest) -> CompletionResponse:
    """One attempt at one candidate. Raises ProviderFailure for every way the call can go wrong."""
    spec = provider_spec_get(candidate.route.provider)
    name = spec.display_name
    try:
        with egress.guarded_http_client(timeout=float(settings.PROVIDER_CALL_TIMEOUT_SECONDS)) as http_client:
            return spec.complete(candidate, request, http_client)
    except Exception as exc:  # every way a call ends without an answer becomes a ProviderFailure
        failure = spec.failure_of(exc)
        if failure is not None:
            raise failure_from_sdk(failure, exc, name) from None
        if isinstance(exc, _NOT_ITS_FORMAT):
            # Logged as the type only: messages of parse errors include the body, which can quote the key.
            logger.warning("%s answered in a format that is not its API (%s)", name, type(exc).__name__)
            raise ProviderFailure(RETRYABLE, f"{name} answered, but not in the format of its API.") from None
        # The SDKs parse with pydantic; its messages include the input, so only the type is logged.
        logger.warning("The call to %s failed unexpectedly (%s)", name, type(exc).__name__)
        raise ProviderFailure(RETRYABLE, f"The call to {name} failed unexpectedly.") from None
