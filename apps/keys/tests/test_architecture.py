"""Structural rules that a reviewer would otherwise have to remember."""

import ast
from pathlib import Path

import pytest
from django.conf import settings

# Reads the source only: the same in both modes.
pytestmark = pytest.mark.pure

APPS = Path(settings.BASE_DIR) / "apps"


def _calls(name: str) -> list[tuple[str, str]]:
    """(module path, enclosing function) of every call to `<anything>.name(...)` or `name(...)` outside tests."""
    found = []
    for path in APPS.rglob("*.py"):
        if "tests" in path.parts:
            continue
        tree = ast.parse(path.read_text(), filename=str(path))
        for function in [node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)]:
            for node in ast.walk(function):
                if isinstance(node, ast.Call):
                    callee = node.func
                    called = callee.attr if isinstance(callee, ast.Attribute) else getattr(callee, "id", "")
                    if called == name:
                        found.append((str(path.relative_to(APPS)), function.name))
    return found


def test_only_one_function_decrypts_a_secret():
    assert _calls("open_sealed") == [("keys/services/lifecycle.py", "provider_key_plaintext_for_call")]


def test_only_rewrap_unwraps_data_keys_outside_the_crypto_module():
    assert {where for where in _calls("_unwrap") if where[0] != "keys/crypto.py"} == set()
    assert _calls("rewrap") == [("keys/services/rewrap.py", "provider_keys_rewrap")]


def test_only_rewrap_re_fingerprints_a_stored_secret():
    # sealed_fingerprint opens a secret inside the crypto module to HMAC it under a new pepper.
    assert _calls("sealed_fingerprint") == [("keys/services/rewrap.py", "provider_keys_rewrap")]
    assert {where for where in _calls("_open") if where[0] != "keys/crypto.py"} == set()
