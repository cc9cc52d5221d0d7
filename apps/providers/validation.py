"""Live key validation: one call to the provider's cheapest authenticated endpoint (models list).

It uses the official SDKs so the request is exactly what the provider expects, with the base URL
from settings (or the key's own, for OpenAI-compatible servers), SDK retries off and a short
timeout: a person is waiting for the answer. Results carry our own wording, never the provider's
error text, which can quote part of the key.

Whatever comes back (a 429, a 5xx, an HTML page from a proxy, a 200 whose body is not the
provider's models list), the answer is a result, never an exception: a 200 counts as "valid"
only when its body has the shape of a models list, because anything else (a captive portal, a
misrouted proxy) says nothing about the key.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass

from django.conf import settings

from apps.providers import egress
from apps.providers.registry import ANTHROPIC, OPENAI, OPENAI_COMPATIBLE, provider_spec_get
from apps.providers.sdks import anthropic_sdk, openai_sdk, sdk_errors

logger = logging.getLogger(__name__)

VALID = "valid"
INVALID = "invalid"
UNREACHABLE = "unreachable"
ERROR = "error"

# A Retry-After further out than this is not a hint anyone can act on; it is left out.
RETRY_AFTER_MAX_SECONDS = 24 * 60 * 60


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


def _timeout() -> float:
    return float(settings.PROVIDER_VALIDATION_TIMEOUT_SECONDS)


def _models_count(body: bytes) -> int | None:
    """The number of models in a models-list body ({"data": [{"id": ...}, ...]}), or None if it is not one.

    Both providers answer in this shape. The SDKs' own parsing is not relied on: on a body that is not
    JSON, or JSON of another shape, they raise assorted exceptions or build a page from whatever came.
    """
    try:
        document = json.loads(body)
    except ValueError:  # not JSON, truncated, or not even text (UnicodeDecodeError is a ValueError)
        return None
    models = document.get("data") if isinstance(document, dict) else None
    if not isinstance(models, list):
        return None
    if not all(isinstance(model, dict) and isinstance(model.get("id"), str) for model in models):
        return None
    return len(models)


def _openai_models(*, api_key: str, base_url: str, http_client=None) -> tuple[int, int | None]:
    with openai_sdk().OpenAI(
        api_key=api_key, base_url=base_url, max_retries=0, timeout=_timeout(), http_client=http_client
    ) as client:
        response = client.models.with_raw_response.list().http_response
        return response.status_code, _models_count(response.content)


def _anthropic_models(*, api_key: str, base_url: str) -> tuple[int, int | None]:
    with anthropic_sdk().Anthropic(api_key=api_key, base_url=base_url, max_retries=0, timeout=_timeout()) as client:
        response = client.models.with_raw_response.list(limit=1).http_response
        return response.status_code, _models_count(response.content)


def retry_after_seconds(headers: Mapping[str, str], *, now: dt.datetime | None = None) -> int | None:
    """The Retry-After header as whole seconds (1 to a day), or None if absent or not safely readable.

    RFC 9110 allows a number of seconds or an HTTP date. Anything else (negative, fractional, a date in
    the past, text) is ignored rather than guessed at, and the value is only ever shown as a number.
    """
    value = (headers.get("retry-after") or "").strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():
        seconds = int(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:  # "-0000": the RFC's way of saying UTC without a known local offset
            when = when.replace(tzinfo=dt.UTC)
        seconds = math.ceil((when - (now or dt.datetime.now(dt.UTC))).total_seconds())
        if seconds < 0:
            return None
    if seconds > RETRY_AFTER_MAX_SECONDS:
        return None
    return max(1, seconds)


def _try_again(retry_after: int | None, *, capital: bool) -> str:
    start = "Try" if capital else "try"
    return f"{start} again in {retry_after} seconds." if retry_after else f"{start} again later."


def key_live_validate(*, provider: str, api_key: str, base_url: str = "") -> LiveValidationResult:
    """Ask the provider whether this key is accepted. Never raises for provider-side failures."""
    spec = provider_spec_get(provider)
    name = spec.display_name
    try:
        if provider == OPENAI:
            status, count = _openai_models(api_key=api_key, base_url=spec.base_url())
        elif provider == ANTHROPIC:
            status, count = _anthropic_models(api_key=api_key, base_url=spec.base_url())
        elif provider == OPENAI_COMPATIBLE:
            with egress.guarded_http_client(timeout=_timeout()) as http_client:
                status, count = _openai_models(api_key=api_key, base_url=base_url, http_client=http_client)
        else:  # pragma: no cover - the registry and this function grow together
            raise ValueError(f"no live check for {provider}")
    except sdk_errors().status as exc:
        status = exc.status_code
        if status in (401, 403):
            return LiveValidationResult(INVALID, f"{name} rejected this key (HTTP {status}).", status_code=status)
        if status == 429 or status >= 500:
            retry_after = retry_after_seconds(exc.response.headers)
            if status == 429:
                detail = f"{name} is rate-limiting this key (HTTP 429); {_try_again(retry_after, capital=False)}"
            else:
                detail = (
                    f"{name} had a server-side problem (HTTP {status}); the key could not be checked. "
                    + _try_again(retry_after, capital=True)
                )
            return LiveValidationResult(ERROR, detail, status_code=status, retry_after=retry_after)
        return LiveValidationResult(
            ERROR, f"{name} answered HTTP {status}; the key could not be checked.", status_code=status
        )
    except sdk_errors().timeout:
        return LiveValidationResult(UNREACHABLE, f"{name} did not answer within {_timeout():g} s.")
    except sdk_errors().connection as exc:
        refused = egress.refused_by_egress(exc)
        if refused:
            return LiveValidationResult(ERROR, refused)
        # The exception text names only host-level causes, but keep logs to the type.
        logger.info("live validation for %s could not connect: %s", provider, type(exc.__cause__).__name__)
        return LiveValidationResult(UNREACHABLE, f"Could not connect to {name}.")
    except Exception as exc:
        # The SDKs parse provider answers with pydantic and httpx; an answer nobody foresaw must still
        # end as a result, not a 500. Only the type is logged: these messages can quote the body.
        logger.warning("live validation for %s failed unexpectedly: %s", provider, type(exc).__name__)
        return LiveValidationResult(ERROR, f"The check with {name} failed unexpectedly; the key could not be checked.")
    if count is None:
        return LiveValidationResult(
            ERROR,
            f"{name} answered HTTP {status}, but not in the format of its API (is a proxy in the way, or the "
            "base URL wrong?); the key could not be checked.",
            status_code=status,
        )
    return LiveValidationResult(VALID, f"{name} accepted this key.", status_code=status, models_seen=count)
