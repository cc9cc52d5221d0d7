"""Live key validation: one call to the provider's cheapest authenticated endpoint (models list).

It uses the official SDKs so the request is exactly what the provider expects, with the base URL
from settings (or the key's own, for OpenAI-compatible servers), SDK retries off and a short
timeout: a person is waiting for the answer. Results carry our own wording, never the provider's
error text, which can quote part of the key.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import anthropic
import openai
from django.conf import settings

from apps.providers import egress
from apps.providers.registry import ANTHROPIC, OPENAI, OPENAI_COMPATIBLE, provider_spec_get

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

    @property
    def is_valid(self) -> bool:
        return self.result == VALID


def _timeout() -> float:
    return float(settings.PROVIDER_VALIDATION_TIMEOUT_SECONDS)


def _openai_models(*, api_key: str, base_url: str, http_client=None) -> int:
    with openai.OpenAI(
        api_key=api_key, base_url=base_url, max_retries=0, timeout=_timeout(), http_client=http_client
    ) as client:
        page = client.models.list()
        return len(page.data)


def _anthropic_models(*, api_key: str, base_url: str) -> int:
    with anthropic.Anthropic(api_key=api_key, base_url=base_url, max_retries=0, timeout=_timeout()) as client:
        page = client.models.list(limit=1)
        return len(page.data)


_STATUS_ERRORS = (openai.APIStatusError, anthropic.APIStatusError)
_TIMEOUTS = (openai.APITimeoutError, anthropic.APITimeoutError)
_CONNECTION_ERRORS = (openai.APIConnectionError, anthropic.APIConnectionError)


def key_live_validate(*, provider: str, api_key: str, base_url: str = "") -> LiveValidationResult:
    """Ask the provider whether this key is accepted. Never raises for provider-side failures."""
    spec = provider_spec_get(provider)
    try:
        if provider == OPENAI:
            count = _openai_models(api_key=api_key, base_url=spec.base_url())
        elif provider == ANTHROPIC:
            count = _anthropic_models(api_key=api_key, base_url=spec.base_url())
        elif provider == OPENAI_COMPATIBLE:
            with egress.guarded_http_client(timeout=_timeout()) as http_client:
                count = _openai_models(api_key=api_key, base_url=base_url, http_client=http_client)
        else:  # pragma: no cover - the registry and this function grow together
            raise ValueError(f"no live check for {provider}")
    except _STATUS_ERRORS as exc:
        status = exc.status_code
        if status in (401, 403):
            return LiveValidationResult(
                INVALID, f"{spec.display_name} rejected this key (HTTP {status}).", status_code=status
            )
        if status == 429:
            return LiveValidationResult(
                ERROR, f"{spec.display_name} is rate-limiting this key (HTTP 429); try again later.", status_code=429
            )
        return LiveValidationResult(
            ERROR, f"{spec.display_name} answered HTTP {status}; the key could not be checked.", status_code=status
        )
    except _TIMEOUTS:
        return LiveValidationResult(UNREACHABLE, f"{spec.display_name} did not answer within {_timeout():g} s.")
    except _CONNECTION_ERRORS as exc:
        refused = egress.refused_by_egress(exc)
        if refused:
            return LiveValidationResult(ERROR, refused)
        # The exception text names only host-level causes, but keep logs to the type.
        logger.info("live validation for %s could not connect: %s", provider, type(exc.__cause__).__name__)
        return LiveValidationResult(UNREACHABLE, f"Could not connect to {spec.display_name}.")
    return LiveValidationResult(VALID, f"{spec.display_name} accepted this key.", status_code=200, models_seen=count)
