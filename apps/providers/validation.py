"""Live key validation: one call to the provider's cheapest authenticated endpoint (models list).

It uses the official SDKs so the request is exactly what the provider expects, with the base URL
from settings (or the key's own, for OpenAI-compatible servers), SDK retries off and a short
timeout: a person is waiting for the answer. Like every provider call it goes through the address
guard's HTTP client (apps.providers.egress), whichever provider: one rule for every outbound call.
Results carry our own wording, never the provider's error text, which can quote part of the key.

Whatever comes back (a 429, a 5xx, an HTML page from a proxy, a 200 whose body is not the
provider's models list), the answer is a result, never an exception: a 200 counts as "valid"
only when its body has the shape of a models list, because anything else (a captive portal, a
misrouted proxy) says nothing about the key.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from apps.core.database import connections_release
from apps.providers import egress
from apps.providers.plugins.base import (
    CONNECTION,
    STATUS,
    TIMEOUT,
    SdkFailure,
    retry_after_seconds,
    validation_timeout,
)
from apps.providers.registry import provider_spec_get

__all__ = ["LiveValidationResult", "key_live_validate", "retry_after_seconds"]

logger = logging.getLogger(__name__)

VALID = "valid"
INVALID = "invalid"
UNREACHABLE = "unreachable"
ERROR = "error"


@dataclass(frozen=True)
class LiveValidationResult:
    """What the provider said about a key, in words safe to store and show."""

    result: str
    detail: str
    status_code: int | None = None
    models_seen: int | None = None
    # Seconds the provider asked us to wait (its Retry-After on a 429 or 5xx), when it was readable.
    retry_after: int | None = None

    @property
    def is_valid(self) -> bool:
        return self.result == VALID


def _try_again(retry_after: int | None, *, capital: bool) -> str:
    start = "Try" if capital else "try"
    return f"{start} again in {retry_after} seconds." if retry_after else f"{start} again later."


def key_live_validate(*, provider: str, api_key: str, base_url: str = "") -> LiveValidationResult:
    """Ask the provider whether this key is accepted. Never raises for provider-side failures."""
    spec = provider_spec_get(provider)
    name = spec.display_name
    # A person waits on the provider for up to the validation timeout: no database connection meanwhile.
    connections_release()
    try:
        with egress.guarded_http_client(timeout=validation_timeout()) as http_client:
            seen = spec.models_list(api_key=api_key, base_url=spec.route_base_url(base_url), http_client=http_client)
    except Exception as exc:
        failure = spec.failure_of(exc)
        if failure is None:
            # The SDKs parse provider answers with pydantic and httpx; an answer nobody foresaw must still
            # end as a result, not a 500. Only the type is logged: these messages can quote the body.
            logger.warning("live validation for %s failed unexpectedly: %s", provider, type(exc).__name__)
            return LiveValidationResult(
                ERROR, f"The check with {name} failed unexpectedly; the key could not be checked."
            )
        return _result_of_failure(failure, exc, name=name, provider=provider)
    if seen.count is None:
        return LiveValidationResult(
            ERROR,
            f"{name} answered HTTP {seen.status}, but not in the format of its API (is a proxy in the way, or the "
            "base URL wrong?); the key could not be checked.",
            status_code=seen.status,
        )
    return LiveValidationResult(VALID, f"{name} accepted this key.", status_code=seen.status, models_seen=seen.count)


def _result_of_failure(failure: SdkFailure, exc: BaseException, *, name: str, provider: str) -> LiveValidationResult:
    if failure.what == TIMEOUT:
        return LiveValidationResult(UNREACHABLE, f"{name} did not answer within {validation_timeout():g} s.")
    if failure.what == CONNECTION:
        refused = egress.refused_by_egress(exc)
        if refused:
            return LiveValidationResult(ERROR, refused)
        # The exception text names only host-level causes, but keep logs to the type.
        logger.info("live validation for %s could not connect: %s", provider, type(exc.__cause__).__name__)
        return LiveValidationResult(UNREACHABLE, f"Could not connect to {name}.")
    assert failure.what == STATUS
    status = failure.status or 0
    if failure.key_refused:
        return LiveValidationResult(INVALID, f"{name} rejected this key (HTTP {status}).", status_code=status)
    if status == 429 or status >= 500:
        retry_after = failure.retry_after
        if status == 429:
            detail = f"{name} is rate-limiting this key (HTTP 429); {_try_again(retry_after, capital=False)}"
        else:
            detail = f"{name} had a server-side problem (HTTP {status}); the key could not be checked. " + _try_again(
                retry_after, capital=True
            )
        return LiveValidationResult(ERROR, detail, status_code=status, retry_after=retry_after)
    return LiveValidationResult(
        ERROR, f"{name} answered HTTP {status}; the key could not be checked.", status_code=status
    )
