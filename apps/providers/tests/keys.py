"""Realistic-looking (fake) provider keys for tests."""

import secrets
import string

_ALPHABET = string.ascii_letters + string.digits


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def openai_key(tag: str = "") -> str:
    return "sk-proj-" + tag + _random(156 - len(tag))


def anthropic_key(tag: str = "") -> str:
    return "sk-ant-api03-" + tag + _random(93 - len(tag)) + "AA"


def compatible_key(tag: str = "") -> str:
    return "sk-or-v1-" + tag + _random(64 - len(tag))


def gemini_key(tag: str = "") -> str:
    # Google API keys: "AIza" and 35 letters, digits, '-' or '_' (39 characters in all).
    return "AIza" + tag + _random(35 - len(tag))
