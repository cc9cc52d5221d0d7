"""The masking shortcut (skip the patterns when no fragment they need is present) changes nothing."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from apps.audit.masking import EMAIL, MASK, RESET_LINK, SECRET_VALUE, mask_audit_text, mask_text

# Pieces of real secrets and of what surrounds them, so generated text often holds a match.
PIECES = [
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
    return RESET_LINK.sub(rf"\g<1>{MASK}", SECRET_VALUE.sub(MASK, text))


@settings(max_examples=3000, deadline=None)
@given(texts)
def test_masking_with_the_shortcut_equals_masking_without_it(text):
    assert mask_text(text) == _mask_text_always(text)
    assert mask_audit_text(text) == EMAIL.sub(r"\1***@\2", _mask_text_always(text))


def test_secrets_are_still_masked():
    token = "gw_pat_abcdefgh12345678_" + "x" * 20
    assert mask_text(f"token {token} here") == f"token {MASK} here"
    assert mask_audit_text("mail alice@example.com") == "mail a***@example.com"
    assert mask_text("plain words, no secrets") == "plain words, no secrets"
