"""/chat/: the chatbot page on apps.chat's loop, against the loopback fake providers."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from apps.chat.models import Conversation
from apps.keys.services import provider_key_create
from apps.providers.tests import fake_provider as fake
from apps.providers.tests.keys import openai_key
from apps.quotas.models import Budget
from apps.todos.models import Todo

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fast_calls(settings):
    settings.PROVIDER_RETRY_BASE_SECONDS = 0.01
    settings.PROVIDER_RETRY_ATTEMPTS = 2
    settings.PROVIDER_CALL_TIMEOUT_SECONDS = 2


@pytest.fixture
def alices_key(fake_provider, alice) -> str:
    api_key = openai_key()
    fake_provider.valid_keys.add(api_key)
    provider_key_create(actor=alice, owner=alice, provider="openai", api_key=api_key)
    return api_key


def _say(browser, text: str, conversation: Conversation | None = None):
    path = f"/chat/{conversation.pk}/" if conversation is not None else "/chat/"
    return browser.post(path, {"message": text})


def test_a_message_that_asks_for_a_todo_creates_it_and_shows_the_tool_call(alice_browser, alice, alices_key):
    response = _say(alice_browser, "create todo: buy milk")
    conversation = Conversation.objects.get(user=alice)
    assert response.status_code == 302 and response["Location"] == f"/chat/{conversation.pk}/"
    assert Todo.objects.get(owner=alice).title == "buy milk"
    body = alice_browser.get(response["Location"]).content.decode()
    assert "Tool <code>create_todos</code>: done" in body and "buy milk" in body
    aside = body[body.index('<aside class="chat-todos"') :]
    assert "<li>buy milk" in aside
    assert "Done:" in body  # the assistant's answer after the tool ran
    assert alices_key not in body


def test_a_conversation_continues_and_is_listed(alice_browser, alice, alices_key, fake_provider):
    _say(alice_browser, "hello")
    conversation = Conversation.objects.get(user=alice)
    _say(alice_browser, "again", conversation)
    sent = [m["content"] for m in fake_provider.model_calls()[-1]["body"]["messages"] if m["role"] != "system"]
    assert sent == ["hello", "echo: hello", "again"]
    body = alice_browser.get("/chat/").content.decode()
    assert f'href="/chat/{conversation.pk}/"' in body and ">hello</a>" in body
    page = alice_browser.get(f"/chat/{conversation.pk}/").content.decode()
    assert page.count('class="turn turn-user"') == 2 and "echo: again" in page


def test_another_users_conversation_is_not_found(alice_browser, bob_browser, alice, alices_key):
    _say(alice_browser, "hello")
    conversation = Conversation.objects.get(user=alice)
    assert bob_browser.get(f"/chat/{conversation.pk}/").status_code == 404
    assert _say(bob_browser, "let me in", conversation).status_code == 404
    assert conversation.messages.count() == 2
    assert f"/chat/{conversation.pk}/" not in bob_browser.get("/chat/").content.decode()


def test_an_offline_provider_is_said_plainly(alice_browser, alice, alices_key, fake_provider):
    fake_provider.behaviour = fake.UNAVAILABLE
    response = _say(alice_browser, "hi")
    body = alice_browser.get(response["Location"]).content.decode()
    assert "Offline:" in body and "cannot be reached right now" in body


def test_over_budget_is_refused_with_a_pointer_to_the_usage_page(alice_browser, alice, alices_key):
    Budget.objects.create(user=alice, period="day", measure="cost", amount=Decimal("0"), hard=True)
    response = _say(alice_browser, "create todo: too expensive")
    body = response.content.decode()
    assert response.status_code == 429 and "Retry-After" in response
    assert "Over budget:" in body and 'href="/settings/usage/"' in body
    assert not Todo.objects.exists()


def test_rate_limited_is_refused_with_the_wait(alice_browser, alice, alices_key, settings):
    settings.QUOTA_PROVIDER_RATE = "1/hour"
    settings.QUOTA_PROVIDER_BURST = 1
    first = _say(alice_browser, "hello")
    assert first.status_code == 302
    response = _say(alice_browser, "hello again")
    body = response.content.decode()
    assert response.status_code == 429, body[:400]
    assert "Rate limited:" in body and re.search(r"wait \d+ seconds", body)


def test_an_empty_message_is_refused_on_the_form(alice_browser, alices_key):
    response = _say(alice_browser, "")
    assert response.status_code == 200 and "This field is required." in response.content.decode()
    assert not Conversation.objects.exists()


def test_a_key_pasted_into_the_chat_is_shown_nowhere(alice_browser, alice, alices_key):
    response = _say(alice_browser, f"my key is {alices_key}")
    pages = [response["Location"], "/chat/", "/settings/activity/", "/settings/activity/export/?format=ndjson"]
    for path in pages:
        answer = alice_browser.get(path)
        body = b"".join(answer.streaming_content) if answer.streaming else answer.content
        assert alices_key.encode() not in body and alices_key[8:24].encode() not in body, path


def test_the_offline_banner_ends_its_sentence_once(alice_browser, alice, alices_key, fake_provider):
    fake_provider.behaviour = fake.UNAVAILABLE
    response = _say(alice_browser, "hi")
    body = alice_browser.get(response["Location"]).content.decode()
    banner = re.search(r"Offline: [^<]*", body).group(0)
    assert ".." not in banner and banner.rstrip().endswith(".")


def test_due_times_beside_the_chat_are_in_the_users_time_zone(alice, alice_browser):
    import datetime as dt

    from apps.todos.services import todo_create

    alice.timezone = "Europe/Berlin"
    alice.save(update_fields=["timezone"])
    todo_create(owner=alice, title="Call the bank", due_at=dt.datetime(2026, 1, 20, 16, 0, tzinfo=dt.UTC))

    body = alice_browser.get("/chat/").content.decode()

    assert "2026-01-20 17:00 CET" in body and 'datetime="2026-01-20T17:00:00+01:00"' in body
