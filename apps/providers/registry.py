"""The providers the gateway speaks to, and what a key for each looks like.

Format rules are deliberately a little looser than what the providers issue today (lengths
change) but strict about what is certainly wrong: another provider's prefix, whitespace inside,
characters no provider uses. Messages say what is wrong without repeating any of the key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.conf import settings

from apps.core.errors import InvalidInput

OPENAI = "openai"
ANTHROPIC = "anthropic"
OPENAI_COMPATIBLE = "openai_compatible"


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
class ProviderSpec:
    """One provider: its name, what it can do, its key format and where it lives."""

    name: str
    display_name: str
    features: tuple[str, ...]
    key_format: KeyFormat
    docs_url: str
    keys_url: str
    public_base_url: str | None  # the provider's own API; None means the user gives one
    base_url_setting: str | None  # settings name of the base URL actually used (tests, proxies)
    # Prefixes shown in a key's mask, most specific first.
    mask_prefixes: tuple[str, ...] = field(default=())

    @property
    def requires_base_url(self) -> bool:
        return self.public_base_url is None

    def base_url(self) -> str | None:
        """The base URL calls go to: the setting, which may point at a proxy or a test fake."""
        return getattr(settings, self.base_url_setting) if self.base_url_setting else None

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


_TOKEN_ALPHABET = re.compile(r"^[A-Za-z0-9_-]+\Z")
_COMPATIBLE_ALPHABET = re.compile(r"^[A-Za-z0-9._~+/=:-]+\Z")

PROVIDERS: dict[str, ProviderSpec] = {
    OPENAI: ProviderSpec(
        name=OPENAI,
        display_name="OpenAI",
        features=("chat", "tools", "streaming", "structured_output", "embeddings", "models_list"),
        key_format=KeyFormat(
            prefixes=("sk-proj-", "sk-svcacct-", "sk-"),
            alphabet=_TOKEN_ALPHABET,
            alphabet_description="letters, digits, '-' and '_'",
            min_length=40,
            max_length=300,
            description="A project key (sk-proj-...), service account key (sk-svcacct-...) or legacy key (sk-...).",
            refused_prefixes=(
                ("sk-admin-", "This is an OpenAI admin key; store a project key (sk-proj-...) instead."),
                ("sk-ant-", "This looks like an Anthropic key; choose the anthropic provider."),
            ),
        ),
        docs_url="https://platform.openai.com/docs/api-reference",
        keys_url="https://platform.openai.com/api-keys",
        public_base_url="https://api.openai.com/v1",
        base_url_setting="OPENAI_BASE_URL",
        mask_prefixes=("sk-proj-", "sk-svcacct-", "sk-"),
    ),
    ANTHROPIC: ProviderSpec(
        name=ANTHROPIC,
        display_name="Anthropic",
        features=("chat", "tools", "streaming", "models_list"),
        key_format=KeyFormat(
            prefixes=("sk-ant-api",),
            alphabet=_TOKEN_ALPHABET,
            alphabet_description="letters, digits, '-' and '_'",
            min_length=90,
            max_length=250,
            description="An API key from the Anthropic Console (sk-ant-api03-...).",
            refused_prefixes=(
                ("sk-ant-admin", "This is an Anthropic admin key; store an API key (sk-ant-api...) instead."),
                ("sk-ant-oat", "This is an OAuth token, not an API key; create an API key in the Console."),
                ("sk-proj-", "This looks like an OpenAI key; choose the openai provider."),
            ),
        ),
        docs_url="https://docs.anthropic.com/en/api/overview",
        keys_url="https://console.anthropic.com/settings/keys",
        public_base_url="https://api.anthropic.com",
        base_url_setting="ANTHROPIC_BASE_URL",
        mask_prefixes=("sk-ant-",),
    ),
    OPENAI_COMPATIBLE: ProviderSpec(
        name=OPENAI_COMPATIBLE,
        display_name="OpenAI-compatible",
        features=("chat", "streaming", "models_list"),
        key_format=KeyFormat(
            prefixes=(),
            alphabet=_COMPATIBLE_ALPHABET,
            alphabet_description="letters, digits and . _ ~ + / = : -",
            min_length=16,
            max_length=512,
            description="Whatever the server issues (e.g. sk-or-..., gsk_...); give its base URL too.",
        ),
        docs_url="https://platform.openai.com/docs/api-reference/models/list",
        keys_url="",
        public_base_url=None,
        base_url_setting=None,
        mask_prefixes=("sk-or-", "sk-", "gsk_"),
    ),
}


PROVIDER_NAMES = sorted(PROVIDERS)


def provider_spec_get(name: str) -> ProviderSpec:
    spec = PROVIDERS.get(name)
    if spec is None:
        raise InvalidInput(
            "Unknown provider.", details={"provider": [f"Must be one of: {', '.join(sorted(PROVIDERS))}."]}
        )
    return spec


def provider_specs_list() -> list[ProviderSpec]:
    return list(PROVIDERS.values())


def key_format_problems(*, provider: str, api_key: str) -> list[str]:
    """What is wrong with this key's shape, in words that never repeat the key; empty if nothing."""
    spec = provider_spec_get(provider)
    rules = spec.key_format
    for prefix, message in rules.refused_prefixes:
        if api_key.startswith(prefix):
            return [message]
    problems: list[str] = []
    if rules.prefixes and not api_key.startswith(rules.prefixes):
        problems.append(f"{spec.display_name} keys start with {' or '.join(rules.prefixes)}.")
    if any(char.isspace() for char in api_key):
        problems.append("The key contains spaces or line breaks; paste it exactly as the provider shows it.")
    elif not rules.alphabet.match(api_key):
        problems.append(f"The key may only contain {rules.alphabet_description}.")
    if len(api_key) < rules.min_length:
        problems.append(f"The key is too short ({len(api_key)} characters; at least {rules.min_length}).")
    elif len(api_key) > rules.max_length:
        problems.append(f"The key is too long ({len(api_key)} characters; at most {rules.max_length}).")
    return problems


def key_mask(*, provider: str, api_key: str) -> str:
    """A recognisable prefix plus the last four characters; never more of the key than that."""
    spec = provider_spec_get(provider)
    prefix = next((p for p in spec.mask_prefixes if api_key.startswith(p)), "")
    # Keys shorter than this are refused by every format; the guard keeps the mask a small fraction.
    tail = api_key[-4:] if len(api_key) >= 16 else ""
    return f"{prefix}...{tail}"
