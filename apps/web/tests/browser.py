"""Driving Debian's chromium with Playwright's async API: one browser per test session, screenshots, axe-core.

The async API, not the sync one: the sync API keeps an event loop running on the main thread for
as long as the browser lives, and Django (rightly) refuses database work from such a thread.

Playwright's own browser download does not work here (and CI has no internet), so the browser is
the distribution's package: `.ci/run` installs it (`apt-get install chromium`) when it is missing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.conf import settings


def chromium_path() -> str:
    """Debian's chromium, or the one WEB_TEST_CHROMIUM names (read when asked: the gate checks it too)."""
    return os.environ.get("WEB_TEST_CHROMIUM", "/usr/bin/chromium")


CHROMIUM = chromium_path()
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking"]
AXE_VERSION = "4.14.1"
AXE_PATH = "/static/vendor/axe-core/axe.min.js"
# WCAG 2.x A and AA rules: labels, names, headings, landmarks, contrast, focusable controls.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def screenshot_dir() -> Path:
    """Where screenshots go (a test artifact, git-ignored under var/)."""
    folder = Path(os.environ.get("WEB_TEST_SCREENSHOTS", settings.VAR_DIR / "test-artifacts" / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def screenshot(page: Any, name: str, *, secrets: list[Any] | None = None) -> Path:
    """A full-page screenshot; `secrets` (locators) are painted over, so no artifact holds a token."""
    path = screenshot_dir() / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True, mask=secrets or [])
    return path


async def axe_violations(page: Any, base_url: str) -> list[dict]:
    """Run axe-core, served by the gateway itself (the page's CSP allows same-origin scripts only)."""
    if not await page.evaluate("() => typeof window.axe !== 'undefined'"):
        await page.add_script_tag(url=f"{base_url}{AXE_PATH}")
    result = await page.evaluate(
        "async (tags) => { const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}});"
        " return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
        " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)})); }",
        AXE_TAGS,
    )
    return list(result)
