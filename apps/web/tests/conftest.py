"""Fixtures for the page tests: signed-in browsers (Django's test client) for the shared personas."""

from __future__ import annotations

import pytest
import pytest_asyncio
from django.test import Client

from apps.keys.tests.conftest import keyring, store_key  # noqa: F401 - shared fixtures
from apps.mcp_tools.tests.conftest import asgi_server, close_sync_thread_connections  # noqa: F401 - shared
from apps.providers.tests.conftest import fake_provider  # noqa: F401 - shared fixture


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def alice_browser(alice) -> Client:
    return signed_in(alice)


@pytest.fixture
def bob_browser(bob) -> Client:
    return signed_in(bob)


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def chromium():
    """One headless chromium for the whole session, on the session's event loop."""
    from playwright.async_api import async_playwright

    from apps.web.tests.browser import CHROMIUM, CHROMIUM_ARGS

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    from apps.web.tests.browser import screenshot_dir

    if any(item.nodeid.startswith("apps/web/tests/test_browser") for item in getattr(config, "_web_browser_items", [])):
        terminalreporter.write_line(f"Browser screenshots: {screenshot_dir()}")


def pytest_collection_modifyitems(config, items) -> None:
    config._web_browser_items = [item for item in items if "test_browser" in item.nodeid]
