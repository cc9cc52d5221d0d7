"""The official SDKs, imported when a provider is first called instead of at start-up.

Importing openai and anthropic costs about two seconds of CPU, two thirds of a Django start. Every
process paid it (web workers, Celery worker and beat, `manage.py` commands such as the stdio server a
desktop client launches), though most of them never call a provider.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import anthropic
    import openai


def openai_sdk() -> ModuleType:
    import openai

    return openai


def anthropic_sdk() -> ModuleType:
    import anthropic

    return anthropic


@dataclass(frozen=True)
class SdkErrors:
    """Each kind of SDK failure, as the tuple an `except` clause takes (both SDKs)."""

    status: tuple[type[openai.APIStatusError | anthropic.APIStatusError], ...]
    timeout: tuple[type[Exception], ...]
    connection: tuple[type[Exception], ...]


@cache
def sdk_errors() -> SdkErrors:
    openai, anthropic = openai_sdk(), anthropic_sdk()
    return SdkErrors(
        status=(openai.APIStatusError, anthropic.APIStatusError),
        timeout=(openai.APITimeoutError, anthropic.APITimeoutError),
        connection=(openai.APIConnectionError, anthropic.APIConnectionError),
    )
