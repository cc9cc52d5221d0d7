"""Any server that speaks OpenAI's Chat Completions format (OpenRouter, Groq, a local gateway...).

The user gives the base URL with the key; it is checked by the outbound guard (apps.providers.egress)
when stored and again at every connection (the key check and calls get the guard's HTTP client).
The wire format and error reading are OpenAI's.
"""

from __future__ import annotations

import re

from apps.providers.plugins import openai as openai_wire
from apps.providers.plugins.base import KeyFormat, ProviderSpec, secret_pattern

_COMPATIBLE_ALPHABET = re.compile(r"^[A-Za-z0-9._~+/=:-]+\Z")


PROVIDER = ProviderSpec(
    name="openai_compatible",
    display_name="OpenAI-compatible",
    order=90,
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
    default_model_setting=None,
    default_model="",
    models_list=openai_wire.models_list,
    complete=openai_wire.complete,
    failure_of=openai_wire.failure_of,
    mask_prefixes=("sk-or-", "sk-", "gsk_"),
    # The formats of the servers people point this at most: OpenRouter, Groq, xAI, Perplexity.
    secret_patterns=(
        secret_pattern("sk-or-"),
        secret_pattern("gsk_"),
        secret_pattern("xai-"),
        secret_pattern("pplx-"),
    ),
    user_base_url=True,
)
