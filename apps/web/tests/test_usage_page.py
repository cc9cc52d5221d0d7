"""/settings/usage/: the caller's own calls, budgets, limits and notifications, from apps.quotas."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.quotas.models import Budget, BudgetSpend, Notification, UsageRecord
from apps.web import services

pytestmark = pytest.mark.django_db


def test_it_shows_the_callers_tool_calls_and_not_anyone_elses(alice_browser, alice, bob):
    services.tool_try(user=alice, tool_name="todo_overview", arguments={})
    services.tool_try(user=alice, tool_name="todo_overview", arguments={})
    services.tool_try(user=bob, tool_name="whoami", arguments={})
    body = alice_browser.get("/settings/usage/").content.decode()
    assert '<th scope="row"><code>todo_overview</code></th>\n      <td>2</td><td>2</td>' in body
    assert "<code>whoami</code>" not in body
    assert "2 in all, at most 2 a day." in body


def test_it_draws_provider_use_and_cost_per_day(alice_browser, alice):
    UsageRecord.objects.create(
        user=alice,
        door="chat",
        provider="openai",
        model="gpt-4o-mini",
        input_tokens=100,
        output_tokens=50,
        cost=Decimal("0.0125"),
        outcome="ok",
    )
    body = alice_browser.get("/settings/usage/").content.decode()
    today = timezone.now().astimezone(dt.UTC).date().isoformat()
    assert f"{today}: 0 tool calls, 1 provider calls, US$0.0125" in body
    assert "<svg" in body and 'role="img"' in body


def test_the_chart_has_its_dates_and_its_scale(alice_browser, alice):
    for _ in range(3):
        services.tool_try(user=alice, tool_name="todo_overview", arguments={})
    body = alice_browser.get("/settings/usage/").content.decode()
    today = timezone.now().astimezone(dt.UTC).date()
    first = today - dt.timedelta(days=29)
    # Under the chart: its first, middle and last day; beside it: from 0 to the tallest day.
    dates = body.split('<div class="chart-dates"', 1)[1].split("</div>", 1)[0]
    assert dates.count("<span>") == 3
    assert f"<span>{first:%b} {first.day}</span>" in dates and f"<span>{today:%b} {today.day}</span>" in dates
    assert '<div class="chart-scale" aria-hidden="true"><span>3</span><span>0</span></div>' in body
    assert f"per day (UTC), {first:%b} {first.day} to {today:%b} {today.day}; the scale runs from 0 to 3" in body


def test_budgets_show_as_meters_with_the_warning_thresholds(alice_browser, alice, settings):
    settings.QUOTA_WARNING_THRESHOLDS = [50, 80]
    Budget.objects.create(user=alice, period="day", measure="cost", amount=Decimal("2"), hard=True)
    BudgetSpend.objects.create(
        user=alice,
        provider="",
        period="day",
        period_start=timezone.now().astimezone(dt.UTC).date(),
        cost=Decimal("1.7"),
    )
    Notification.objects.create(
        user=alice, kind="budget_warning", message="You have used 80 % of your daily budget.", dedup_key="k1"
    )
    body = alice_browser.get("/settings/usage/").content.decode()
    assert "Daily budget (US$) for all providers: 1.7 of 2 (85 %), refused past the limit" in body
    assert 'max="2" low="1" high="1.6" optimum="0" value="1.7"' in body
    assert "You have used 80 % of your daily budget." in body


def test_it_lists_the_limits_that_apply(alice_browser):
    body = alice_browser.get("/settings/usage/").content.decode()
    assert "every request by this account, through every door" in body
