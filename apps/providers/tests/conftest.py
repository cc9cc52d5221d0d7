import pytest

from apps.providers.tests.fake_provider import fake_provider_running


@pytest.fixture
def fake_provider(settings):
    """The fake provider, with OPENAI_BASE_URL, ANTHROPIC_BASE_URL and GEMINI_BASE_URL pointing at it."""
    with fake_provider_running() as fake:
        settings.OPENAI_BASE_URL = fake.openai_base_url
        settings.ANTHROPIC_BASE_URL = fake.anthropic_base_url
        settings.GEMINI_BASE_URL = fake.gemini_base_url
        yield fake
