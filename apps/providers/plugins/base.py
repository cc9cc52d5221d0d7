"""What a provider module declares, and the helpers every provider module shares.

A provider is one module in this package with a `PROVIDER = ProviderSpec(...)` at its top level
(see docs/providers.md). The spec is the whole provider: its names and links, its key formats and
the secret patterns masking uses, its settings, its price rows, and three functions the generic
code calls: `models_list` (the live key check), `complete` (one call in the provider's own wire
format, with tool calling) and `failure_of` (what one of its SDK's exceptions means for retries,
the breaker and the key). Nothing outside apps/providers/ names a provider; it asks the registry.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx2
from django.conf import settings

from apps.providers.calls import Candidate, CompletionRequest, CompletionResponse

# A Retry-After further out than this is not a hint anyone can act on; it is left out.
RETRY_AFTER_MAX_SECONDS = 24 * 60 * 60

TOKEN_ALPHABET = re.compile(r"^[A-Za-z0-9_-]+\Z")


@dataclass(frozen=True)
class KeyFormat:
    """Shape of a provider's API key: allowed prefixes, alphabet and length."""

    prefixes: tuple[str, ...]
    alphabet: re.Pattern[str]
    alphabet_description: str
    min_length: int
    max_length: int
    description: str
    # Prefixes that look right but name a key this gateway must not hold (e.g. admin keys).
    refused_prefixes: tuple[tuple[str, str], ...] = ()

    def as_dict(self) -> dict[str, object]:
        return {
            "prefixes": list(self.prefixes),
            "min_length": self.min_length,
            "max_length": self.max_length,
            "characters": self.alphabet_description,
            "description": self.description,
        }


@dataclass(frozen=True)
class SecretPattern:
    """A credential format masking must hide wherever it appears (logs, audit, chat).

    `fragment` is a literal every match contains: masking checks for it (in C) before running any
    regular expression, which keeps the common case (no secret at all) cheap.
    """

    fragment: str
    regex: str

    def __post_init__(self) -> None:
        if not re.search(self.regex, self.example_for_check()):  # pragma: no cover - a module's own mistake
            raise ValueError(f"secret pattern {self.regex!r} does not match its own fragment")

    def example_for_check(self) -> str:
        return self.fragment + "A" * 40


def secret_pattern(prefix: str, *, body: str = r"[A-Za-z0-9_\-]", min_body: int = 8) -> SecretPattern:
    """A key that starts with `prefix` and goes on in `body` characters (at least `min_body` of them)."""
    return SecretPattern(fragment=prefix, regex=re.escape(prefix) + body + "{" + str(min_body) + ",}")


@dataclass(frozen=True)
class PriceRow:
    """A list price (US dollars per million tokens) from a date on; the ledger's price table gets a row each."""

    model: str
    input_per_million: Decimal
    output_per_million: Decimal
    effective_from: dt.datetime
    source: str


def prices(source: str, effective_from: dt.date, rows: list[tuple[str, str, str]]) -> tuple[PriceRow, ...]:
    start = dt.datetime.combine(effective_from, dt.time(), tzinfo=dt.UTC)
    return tuple(PriceRow(model, Decimal(i), Decimal(o), start, source) for model, i, o in rows)


# What an SDK exception means, as a provider module classifies it. The generic code (adapters.py,
# validation.py) turns it into a ProviderFailure or a LiveValidationResult in the product's words.
STATUS = "status"  # the provider answered with an HTTP error status
TIMEOUT = "timeout"  # no answer in time
CONNECTION = "connection"  # no connection (including the outbound guard's refusal)


@dataclass(frozen=True)
class SdkFailure:
    what: str  # STATUS, TIMEOUT or CONNECTION
    status: int | None = None
    retry_after: int | None = None
    key_refused: bool = False  # the provider says the key is invalid or revoked
    quota: bool = False  # the account is out of credit: another key may still work


def status_failure(
    status: int, *, headers: Mapping[str, str] | None = None, key_refused: bool = False, quota: bool = False
) -> SdkFailure:
    """The usual reading of an HTTP status: 401/403 refuse the key; Retry-After is read when present."""
    return SdkFailure(
        STATUS,
        status=status,
        retry_after=retry_after_seconds(headers or {}),
        key_refused=key_refused or status in (401, 403),
        quota=quota,
    )


@dataclass(frozen=True)
class ModelsList:
    """What the live check saw: the HTTP status and the number of models (None: not a models list)."""

    status: int
    count: int | None


# models_list(api_key=..., base_url=..., http_client=...) -> ModelsList; http_client is the address guard's
# (validation.py passes it), so a provider module never lets its SDK build a client of its own
ModelsListCall = Callable[..., ModelsList]
# complete(candidate, request, http_client) -> CompletionResponse; raises Malformed for a body not in its format
CompleteCall = Callable[[Candidate, CompletionRequest, httpx2.Client], CompletionResponse]
FailureOf = Callable[[BaseException], SdkFailure | None]


@dataclass(frozen=True)
class ProviderSpec:
    """One provider, completely: what the product shows, stores, masks, prices and calls."""

    name: str
    display_name: str
    order: int  # where it comes in lists and in the default provider order
    features: tuple[str, ...]
    key_format: KeyFormat
    docs_url: str
    keys_url: str
    public_base_url: str | None  # the provider's own API; None means the user gives one
    base_url_setting: str | None  # settings name of the base URL actually used (tests, proxies)
    default_model_setting: str | None  # settings name of the model asked when the user chose none
    default_model: str  # that setting's default; empty: the user must name a model
    models_list: ModelsListCall
    complete: CompleteCall
    failure_of: FailureOf
    # Prefixes shown in a key's mask, most specific first.
    mask_prefixes: tuple[str, ...] = ()
    # Credential formats masking hides; when empty, one per key prefix.
    secret_patterns: tuple[SecretPattern, ...] = ()
    prices: tuple[PriceRow, ...] = ()
    # Keys live at the user's own server (base URL given per key) rather than the provider's.
    user_base_url: bool = False

    @property
    def requires_base_url(self) -> bool:
        return self.public_base_url is None

    def base_url(self) -> str | None:
        """The base URL calls go to: the setting, which may point at a proxy or a test fake."""
        return getattr(settings, self.base_url_setting) if self.base_url_setting else None

    def route_base_url(self, key_base_url: str) -> str:
        """Where a stored key's calls go: its own base URL for user servers, else the configured one."""
        return key_base_url if self.user_base_url else (self.base_url() or "")

    def model_default(self) -> str:
        return getattr(settings, self.default_model_setting, "") if self.default_model_setting else ""

    def all_secret_patterns(self) -> tuple[SecretPattern, ...]:
        """The patterns given, else one per key prefix."""
        return self.secret_patterns or tuple(secret_pattern(prefix) for prefix in self.key_format.prefixes)

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "display_name": self.display_name,
            "features": list(self.features),
            "key_format": self.key_format.as_dict(),
            "docs_url": self.docs_url,
            "keys_url": self.keys_url,
            # The public URL, not the configured one: configuration is not shown to clients.
            "default_base_url": self.public_base_url,
            "requires_base_url": self.requires_base_url,
        }


# --- helpers the provider modules share -------------------------------------------------------------------


class Malformed(Exception):
    """The body was not the provider's format."""


def call_timeout() -> httpx2.Timeout:
    return httpx2.Timeout(
        float(settings.PROVIDER_CALL_TIMEOUT_SECONDS), connect=float(settings.PROVIDER_CONNECT_TIMEOUT_SECONDS)
    )


def validation_timeout() -> float:
    return float(settings.PROVIDER_VALIDATION_TIMEOUT_SECONDS)


def tool_arguments(raw: Any) -> dict[str, Any]:
    """A tool call's arguments as an object, whether the wire format sends JSON text or an object."""
    if isinstance(raw, dict):
        return raw
    try:
        value = json.loads(raw) if isinstance(raw, str) and raw.strip() else {}
    except ValueError:
        raise Malformed("tool arguments are not JSON") from None
    if not isinstance(value, dict):
        raise Malformed("tool arguments are not an object")
    return value


def models_count(body: bytes | str | None, *, list_field: str = "data", id_field: str = "id") -> int | None:
    """The number of models in a models-list body, or None if it is not one.

    The SDKs' own parsing is not relied on: on a body that is not JSON, or JSON of another shape,
    they raise assorted exceptions or build a page from whatever came.
    """
    try:
        document = json.loads(body or b"")
    except ValueError:  # not JSON, truncated, or not even text (UnicodeDecodeError is a ValueError)
        return None
    models = document.get(list_field) if isinstance(document, dict) else None
    if not isinstance(models, list):
        return None
    if not all(isinstance(model, dict) and isinstance(model.get(id_field), str) for model in models):
        return None
    return len(models)


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
    return bounded_retry_after(seconds)


def bounded_retry_after(seconds: float) -> int | None:
    if seconds > RETRY_AFTER_MAX_SECONDS or seconds < 0:
        return None
    return max(1, math.ceil(seconds))


def error_markers(body: Any) -> str:
    """An error body's type and code fields only (never its message, which can quote the key), lower-cased."""
    if not isinstance(body, dict):
        return ""
    error = body.get("error") if isinstance(body.get("error"), dict) else body
    return " ".join(str(error.get(name) or "") for name in ("type", "code")).lower()
