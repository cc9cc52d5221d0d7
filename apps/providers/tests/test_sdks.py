"""The provider SDKs load when a provider is first called, not when a process starts."""

from __future__ import annotations

import pytest

from tests.startup import start_settings

# Each test starts the settings in a fresh interpreter with an environment of its own.
pytestmark = pytest.mark.own_environment

PROBE = (
    "import sys, django; django.setup(); import config.asgi; "
    "print(sorted(name for name in ('anthropic', 'openai', 'google.genai') if name in sys.modules))"
)


def test_starting_the_web_app_imports_no_provider_sdk(tmp_path):
    # Two thirds of every start (web workers, Celery, beat, the stdio server a desktop client launches).
    started = start_settings(tmp_path, code=PROBE, production=False, APP_ENV="development")
    assert started.returncode == 0, started.stderr
    assert started.stdout.split("\n")[-2] == "[]"
