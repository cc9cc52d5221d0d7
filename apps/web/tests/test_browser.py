"""A real browser (Debian's chromium through Playwright) against a live server: the journey of a new user.

Sign up, guided setup with a key the provider refuses and then one it accepts, a token used from
the official MCP SDK client, a tool tried from the page, the key, token and usage pages, sign out; then
the keyboard, the pages without JavaScript, a phone-sized screen and the operators' dashboard.
Every page is checked with axe-core (served by the gateway) and saved as a screenshot (the folder is
printed at the end of the run).
"""

from __future__ import annotations

import re

import pytest
from asgiref.sync import sync_to_async

from apps.keys.services import provider_key_create
from apps.mcp_tools.tests.conftest import mcp_client
from apps.providers.tests.keys import openai_key
from apps.web.tests.browser import axe_violations, screenshot
from conftest import PASSWORD

pytestmark = [
    pytest.mark.asyncio(loop_scope="session"),
    pytest.mark.usefixtures("close_sync_thread_connections"),
]
PASSPHRASE = "a-strong-passphrase-1"
SETTINGS = re.compile(r".*/settings/(#.*)?$")


async def _check(page, base_url: str, name: str, **kwargs) -> None:
    """Every page: a screenshot, no axe-core violation, one h1, one main landmark."""
    await screenshot(page, name, **kwargs)
    assert await axe_violations(page, base_url) == [], name
    assert await page.locator("h1").count() == 1, name
    assert await page.locator("main").count() == 1, name


async def _submit(page, button: str) -> None:
    """Press a form's button and wait for the page it leads to."""
    async with page.expect_navigation():
        await page.get_by_role("button", name=button).click()


async def _sign_in(page, username: str) -> None:
    await page.goto("/accounts/login/")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password", exact=True).fill(PASSWORD)
    await _submit(page, "Sign in")


async def test_a_new_user_signs_up_connects_a_client_and_signs_out(chromium, asgi_server, fake_provider, keyring):
    base = asgi_server.url
    context = await chromium.new_context(base_url=base)
    page = await context.new_page()
    # Script errors and Content-Security-Policy refusals (a 4xx page answering a refused form is expected).
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: "Content Security Policy" in message.text and problems.append(message.text))

    await page.goto("/")
    await _check(page, base, "01-home")
    await page.get_by_role("link", name="Create an account").click()
    await _check(page, base, "02-signup")
    await page.get_by_label("Username").fill("erin")
    await page.get_by_label("Email").fill("erin@example.test")
    await page.get_by_label("Password", exact=True).fill(PASSPHRASE)
    await page.get_by_label("Timezone").select_option("Europe/Berlin")
    await _submit(page, "Create account")
    assert SETTINGS.match(page.url)
    assert "0 of 6 steps done" in await page.locator(".progress-block").inner_text()
    await _check(page, base, "03-setup-start")

    # A key the provider refuses: the page says why, and keeps nothing.
    refused = openai_key()
    await page.get_by_label("API key").fill(refused)
    await _submit(page, "Store and check the key")
    assert "rejected" in (await page.locator("#step-key_added .field-errors").inner_text()).lower()
    assert refused not in await page.content()
    await _check(page, base, "04-setup-key-refused")

    accepted = openai_key()
    fake_provider.valid_keys.add(accepted)
    await page.get_by_label("API key").fill(accepted)
    await page.get_by_label("Label").fill("Work")
    await _submit(page, "Store and check the key")
    assert "Valid" in await page.locator(".messages").inner_text()
    assert "2 of 6 steps done" in await page.locator(".progress-block").inner_text()
    await _check(page, base, "05-setup-key-accepted")

    # The provider order: OpenAI first (the only key), its model kept.
    await page.get_by_label("First choice").select_option("openai")
    await page.get_by_label("Second choice").select_option("anthropic")
    await page.get_by_label("Third choice").select_option("openai_compatible")
    await _submit(page, "Save the order")
    assert "3 of 6 steps done" in await page.locator(".progress-block").inner_text()
    await _check(page, base, "05b-setup-provider-order")

    # A token, shown once, with configurations that carry it.
    await page.locator("#step-token_created").get_by_label("Name", exact=True).fill("Claude Desktop")
    await _submit(page, "Create token")
    token = await page.locator("#new-token").input_value()
    assert re.fullmatch(r"gw_pat_[0-9a-f]{12}_\S+", token)
    assert await page.get_by_role("button", name="Copy").first.is_visible()  # shown by site.js
    await _check(page, base, "06-setup-token-created", secrets=[page.locator(".secret"), page.locator("pre")])

    async with mcp_client(asgi_server.mcp_url, token) as client:
        tools = {tool.name for tool in (await client.list_tools()).tools}
        created = await client.call_tool("create_todos", {"items": [{"title": "Water the plants"}]})
        overview = await client.call_tool("todo_overview", {})
    assert {"create_todos", "list_todos", "todo_overview"} <= tools
    assert created.structured_content["count"] == 1 and overview.structured_content["open"] == 1

    await _submit(page, "I have added it to my client")
    await page.get_by_label("Tool", exact=True).select_option("list_todos")
    await page.get_by_label("Arguments (JSON)").fill('{"status": "open"}')
    await _submit(page, "Run the tool")
    result = await page.locator(".tool-result").inner_text()
    assert "Result of list_todos" in result and "Water the plants" in result
    assert "6 of 6 steps done" in await page.locator(".progress-block").inner_text()
    await _check(page, base, "07-setup-complete")

    await page.get_by_role("link", name="Provider keys").click()
    assert "Work" in await page.locator("table").inner_text() and accepted not in await page.content()
    await _check(page, base, "08-keys")
    await page.get_by_role("link", name="Delete Work").click()
    await _check(page, base, "09-key-delete-confirm")
    await page.get_by_role("link", name="Cancel").click()

    # The chat: the assistant creates a todo through a tool call, and the list beside it shows it.
    await page.get_by_role("link", name="Chat").click()
    await _check(page, base, "09b-chat-empty")
    await page.get_by_label("Your message").fill("create todo: buy milk")
    await _submit(page, "Send")
    assert "create_todos" in await page.locator(".chat-turns").inner_text()
    assert "buy milk" in await page.locator(".chat-todos").inner_text()
    await _check(page, base, "09c-chat-todo-created")

    await page.get_by_role("link", name="Access tokens").click()
    content = await page.content()
    assert token not in content and token[:19] in content
    await _check(page, base, "10-tokens")
    await page.get_by_role("link", name="Usage").click()
    tools_table = await page.locator("#tools-title + .table-wrap table").inner_text()
    assert "create_todos" in tools_table and "todo_overview" in tools_table  # the SDK client's calls
    assert "openai" in await page.locator("#providers-title + .table-wrap table").inner_text()  # the chat's
    await _check(page, base, "11-usage")
    await page.get_by_role("link", name="Activity").click()
    events = await page.locator("main table").inner_text()
    assert "provider_key.created" in events and "tool.invoked" in events and "access_token.created" in events
    await page.get_by_label("Category").select_option("tool")
    await _submit(page, "Show")
    assert "provider_key.created" not in await page.locator("main table").inner_text()
    await _check(page, base, "11b-activity")
    await page.get_by_role("link", name="Password").click()
    await _check(page, base, "11-password")

    await _submit(page, "Sign out erin")
    await _check(page, base, "12-signed-out")
    await page.goto("/settings/")
    assert page.url.startswith(f"{base}/accounts/login/")
    await _check(page, base, "13-login")
    assert problems == []
    await context.close()


async def test_the_keyboard_reaches_everything_and_focus_is_visible(chromium, asgi_server, alice):
    context = await chromium.new_context(base_url=asgi_server.url)
    page = await context.new_page()
    await page.goto("/")
    await page.keyboard.press("Tab")
    assert await page.evaluate("document.activeElement.textContent") == "Skip to content"
    assert await page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"
    await page.keyboard.press("Enter")
    await page.keyboard.press("Tab")
    # Past the header, straight to the first thing in the page's content.
    assert await page.evaluate("document.activeElement.closest('main') !== null")
    assert await page.evaluate("document.activeElement.textContent") == "Sign in"
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    # The login form takes the focus itself (autofocus, which the browser may apply just after the
    # load event, hence waiting for it); the keyboard alone signs in.
    await page.wait_for_function("document.activeElement && document.activeElement.id === 'id_username'", timeout=5000)
    assert await page.evaluate("document.activeElement.id") == "id_username"
    await page.keyboard.type("alice")
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    async with page.expect_navigation():
        await page.keyboard.press("Enter")
    assert SETTINGS.match(page.url)
    await context.close()


async def test_the_pages_work_without_javascript(chromium, asgi_server, alice, fake_provider, keyring):
    api_key = openai_key()
    fake_provider.valid_keys.add(api_key)
    await sync_to_async(provider_key_create)(actor=alice, owner=alice, provider="openai", api_key=api_key)
    context = await chromium.new_context(base_url=asgi_server.url, java_script_enabled=False)
    page = await context.new_page()
    await _sign_in(page, "alice")
    # The chat is a form post answered by a redirect: the todo list beside it is current without a script.
    await page.goto("/chat/")
    await page.get_by_label("Your message").fill("create todo: call the plumber")
    await _submit(page, "Send")
    assert re.search(r"/chat/\d+/$", page.url)
    assert "call the plumber" in await page.locator(".chat-todos").inner_text()
    await page.goto("/settings/tokens/")
    await page.get_by_label("Name", exact=True).fill("script")
    await _submit(page, "Create token")
    assert (await page.locator("#new-token").input_value()).startswith("gw_pat_")
    assert not await page.locator(".copy-button").first.is_visible()  # nothing offered that cannot work
    await screenshot(page, "14-tokens-without-javascript", secrets=[page.locator(".secret"), page.locator("pre")])
    await context.close()


async def test_the_pages_fit_a_phone_screen(chromium, asgi_server, alice):
    context = await chromium.new_context(base_url=asgi_server.url, viewport={"width": 375, "height": 740})
    page = await context.new_page()
    await _sign_in(page, "alice")
    for path, name in [("/settings/", "15-phone-setup"), ("/settings/keys/", "16-phone-keys"), ("/", "17-phone-home")]:
        await page.goto(path)
        assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), path
        await screenshot(page, name)
    await context.close()


async def test_the_operators_dashboard(chromium, asgi_server, olivia, alice):
    from apps.web import services

    await sync_to_async(services.setup_step_complete)(user=alice, step=services.Step.KEY_ADDED)
    context = await chromium.new_context(base_url=asgi_server.url)
    page = await context.new_page()
    await _sign_in(page, "olivia")
    await page.goto("/admin/")
    assert "Guided setup: where people stop" in await page.locator(".operator-dashboard").inner_text()
    await page.get_by_role("link", name="Verify the hash chain now").click()
    assert "intact" in await page.locator(".operator-dashboard").inner_text()
    await screenshot(page, "18-admin-dashboard")
    await context.close()
