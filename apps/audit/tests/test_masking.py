"""The masking shortcut (skip the patterns when no fragment they need is present) changes nothing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.audit import masking
from apps.audit.masking import EMAIL, MASK, RESET_LINK, mask_audit_text, mask_text, mask_value
from apps.providers.registry import provider_specs_list, secret_patterns

# Pieces of real secrets and of what surrounds them, so generated text often holds a match; every
# provider's secret fragments (from the registry) among them.
PIECES = [
    *(pattern.fragment for pattern in secret_patterns()),
    "sk-",
    "sk-proj-",
    "sk-ant-",
    "eyJ",
    "gw_pat_",
    "pbkdf2_sha256$",
    "argon2$",
    "md5$",
    "$",
    ".",
    "@",
    "/password-reset/",
    "/",
    "_",
    "-",
    " ",
    "abcdEFGH1234",
    "example.com",
    "a",
    "Z9",
    "x@y.io",
    "\\n",
]
texts = st.lists(st.sampled_from(PIECES) | st.text(max_size=6), max_size=12).map("".join)


def _mask_text_always(text: str) -> str:
    return RESET_LINK.sub(rf"\g<1>{MASK}", masking.SECRET_VALUE.sub(MASK, text))


@pytest.mark.pure
@settings(max_examples=3000, deadline=None)
@given(texts)
def test_masking_with_the_shortcut_equals_masking_without_it(text):
    assert mask_text(text) == _mask_text_always(text)
    assert mask_audit_text(text) == EMAIL.sub(r"\1***@\2", _mask_text_always(text))


@pytest.mark.pure
def test_secrets_are_still_masked():
    token = "gw_pat_abcdefgh12345678_" + "x" * 20
    assert mask_text(f"token {token} here") == f"token {MASK} here"
    assert mask_audit_text("mail alice@example.com") == "mail a***@example.com"
    assert mask_text("plain words, no secrets") == "plain words, no secrets"


# One key of each format every provider module declares (its key prefixes and its other secret
# patterns), shaped as the provider issues them: what masking must hide in logs, audit and chat.
CANARIES = {
    f"{spec.name}:{pattern.fragment}": pattern.fragment + "Zq9_Xw-" + "c4N4ry" * 6
    for spec in provider_specs_list()
    for pattern in spec.all_secret_patterns()
}


@pytest.mark.pure
def test_the_canaries_cover_every_provider_and_the_known_formats():
    assert {key.split(":")[0] for key in CANARIES} == {spec.name for spec in provider_specs_list()}
    fragments = {key.split(":", 1)[1] for key in CANARIES}
    assert {"sk-", "sk-proj-", "sk-ant-", "AIza", "gsk_", "sk-or-"} <= fragments


@pytest.mark.pure
@pytest.mark.parametrize("canary", CANARIES.values(), ids=list(CANARIES))
def test_every_provider_key_format_is_masked_in_text_audit_and_values(canary):
    line = f"calling with {canary}, then Authorization: Bearer {canary}."

    assert canary not in mask_text(line) and canary[-12:] not in mask_text(line)
    assert canary not in mask_audit_text(line)
    masked = mask_value({"arguments": {"note": line, "items": [canary]}})
    assert canary not in repr(masked)


@pytest.mark.pure
def test_a_gemini_key_and_a_groq_key_are_masked():
    # The two formats issue 21 found unmasked: Groq's gsk_... (an OpenAI-compatible server) and Gemini's AIza...
    gemini = "AIzaSyD" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6"[:32]
    groq = "gsk_" + "Ab3dEf6hIj9lMn2pQr5tUv8xYz1" * 2
    assert mask_text(f"{gemini} and {groq}") == f"{MASK} and {MASK}"


@pytest.mark.django_db
def test_every_kind_of_token_accounts_issues_is_masked(alice):
    """Masking knows the gateway's token prefixes from where accounts takes them, so a token of each
    kind accounts issues, issued by its own code, is hidden."""
    from apps.accounts.oauth.validator import access_token_generate, refresh_token_generate
    from apps.accounts.pats import pat_create

    _row, pat = pat_create(user=alice, name="laptop", scopes=["todos:read"])
    for token in (pat, access_token_generate(None), refresh_token_generate(None)):
        assert mask_text(f"Bearer {token}.") == f"Bearer {MASK}.", token
