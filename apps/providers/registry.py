"""The providers the gateway speaks to: found in apps/providers/plugins/, one module each.

Everything else asks this module: which providers exist (keys, forms, preferences), what a key for
each looks like, how to mask one (apps.audit.masking builds its patterns from `secret_patterns`),
which settings and prices each brings. Nothing outside apps/providers/ names a provider.

Format rules are deliberately a little looser than what the providers issue today (lengths
change) but strict about what is certainly wrong: another provider's prefix, whitespace inside,
characters no provider uses. Messages say what is wrong without repeating any of the key.
"""

from __future__ import annotations

import importlib
import pkgutil

from apps.core.errors import InvalidInput
from apps.providers import plugins
from apps.providers.plugins.base import KeyFormat, PriceRow, ProviderSpec, SecretPattern

__all__ = ["KeyFormat", "PriceRow", "ProviderSpec", "SecretPattern"]


def _discover() -> dict[str, ProviderSpec]:
    specs: list[ProviderSpec] = []
    for module_info in pkgutil.iter_modules(plugins.__path__):
        module = importlib.import_module(f"{plugins.__name__}.{module_info.name}")
        spec = getattr(module, "PROVIDER", None)
        if isinstance(spec, ProviderSpec):
            specs.append(spec)
    specs.sort(key=lambda spec: (spec.order, spec.name))
    found: dict[str, ProviderSpec] = {}
    for spec in specs:
        if spec.name in found:  # pragma: no cover - two modules claiming one name is a programming error
            raise RuntimeError(f"two provider modules declare {spec.name!r}")
        found[spec.name] = spec
    return found


PROVIDERS: dict[str, ProviderSpec] = _discover()
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


def provider_display_name(name: str) -> str:
    """The name people read; a provider no longer installed shows as stored."""
    spec = PROVIDERS.get(name)
    return spec.display_name if spec is not None else name


def provider_names_sentence() -> str:
    """'OpenAI, Anthropic, Google Gemini or OpenAI-compatible': for pages and messages."""
    names = [spec.display_name for spec in PROVIDERS.values()]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"


def key_mask_examples() -> str:
    """'sk-proj-...a1B2, sk-ant-...a1B2, ...': how stored keys look, for the key forms' help text."""
    prefixes = [spec.mask_prefixes[0] for spec in PROVIDERS.values() if spec.mask_prefixes]
    return ", ".join(f"{prefix}...a1B2" for prefix in dict.fromkeys(prefixes))


def secret_patterns() -> list[SecretPattern]:
    """Every credential format of every provider, for masking; longest fragment first, no repeats."""
    patterns = {pattern.regex: pattern for spec in PROVIDERS.values() for pattern in spec.all_secret_patterns()}
    return sorted(patterns.values(), key=lambda p: (-len(p.fragment), p.regex))


def provider_prices() -> list[tuple[str, PriceRow]]:
    """(provider, row) for every price row the provider modules declare."""
    return [(spec.name, row) for spec in PROVIDERS.values() for row in spec.prices]


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
