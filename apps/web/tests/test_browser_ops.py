"""Layout checks in a real browser (Debian's chromium) at a laptop's 1280 px: the admin's audit list,
the usage chart; and the sign-up page preselecting the browser's own time zone."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async

from apps.audit.services import audit_event_record
from apps.web.tests.browser import screenshot
from apps.web.tests.test_browser import _sign_in

pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.usefixtures("close_sync_thread_connections"),
]
LAPTOP = {"width": 1280, "height": 800}


def _events(actor) -> None:
    for index in range(5):
        audit_event_record(
            action="provider_key.rewrap_batch",
            actor=actor,
            target_type="provider_key",
            target_id=f"openai:{'a' * 40}{index}",
        )


async def test_the_admins_audit_list_fits_1280_px(chromium, asgi_server, olivia):
    await sync_to_async(_events)(olivia)
    context = await chromium.new_context(base_url=asgi_server.url, viewport=LAPTOP)
    page = await context.new_page()
    await _sign_in(page, "olivia")
    await page.goto("/admin/audit/auditevent/")
    await screenshot(page, "ops-admin-audit-1280")
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    # Every column's header is on the screen, the last one included.
    headers = page.locator("#result_list thead th")
    last = await headers.nth(await headers.count() - 1).bounding_box()
    assert last is not None and last["x"] + last["width"] <= LAPTOP["width"]
    await context.close()


async def test_sign_up_preselects_the_browsers_time_zone(chromium, asgi_server):
    context = await chromium.new_context(base_url=asgi_server.url, timezone_id="Europe/Berlin")
    page = await context.new_page()
    await page.goto("/accounts/signup/")
    assert await page.get_by_label("Timezone").input_value() == "Europe/Berlin"
    await context.close()


async def test_the_usage_chart_at_1280_px(chromium, asgi_server, alice):
    context = await chromium.new_context(base_url=asgi_server.url, viewport=LAPTOP)
    page = await context.new_page()
    await _sign_in(page, "alice")
    await page.goto("/settings/usage/")
    await screenshot(page, "ops-usage-chart-1280")
    dates = page.locator(".chart-dates span")
    assert await dates.count() == 3
    assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    await context.close()
