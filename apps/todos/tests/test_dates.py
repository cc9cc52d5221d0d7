"""Natural and ISO due dates, read in the user's zone against a fixed "now"."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from apps.core.errors import InvalidInput
from apps.todos.dates import due_parse

# Wednesday 25 November 2026, 10:00 in Berlin (09:00 UTC).
NOW = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tomorrow 5pm", dt.datetime(2026, 11, 26, 17, 0, tzinfo=BERLIN)),
        ("next monday 9am", dt.datetime(2026, 11, 30, 9, 0, tzinfo=BERLIN)),
        ("friday", dt.datetime(2026, 11, 27, 23, 59, tzinfo=BERLIN)),
        ("next friday", dt.datetime(2026, 11, 27, 23, 59, tzinfo=BERLIN)),
        ("tomorrow", dt.datetime(2026, 11, 26, 23, 59, tzinfo=BERLIN)),
        ("in 3 days", dt.datetime(2026, 11, 28, 23, 59, tzinfo=BERLIN)),
        ("2026-12-01", dt.datetime(2026, 12, 1, 23, 59, tzinfo=BERLIN)),
        ("2026-12-01T09:30", dt.datetime(2026, 12, 1, 9, 30, tzinfo=BERLIN)),
        ("2026-12-01T09:30:00Z", dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.UTC)),
        ("2026-12-01T09:30:00-05:00", dt.datetime(2026, 12, 1, 14, 30, tzinfo=dt.UTC)),
    ],
)
def test_it_reads_dates_in_the_users_zone(text, expected):
    assert due_parse(text=text, tz_name="Europe/Berlin", now=NOW) == expected


def test_the_same_phrase_means_a_different_instant_in_another_zone():
    berlin = due_parse(text="tomorrow 5pm", tz_name="Europe/Berlin", now=NOW)
    tokyo = due_parse(text="tomorrow 5pm", tz_name="Asia/Tokyo", now=NOW)
    assert berlin - tokyo == dt.timedelta(hours=8)


def test_it_prefers_the_future_for_a_bare_weekday():
    monday = due_parse(text="monday", tz_name="UTC", now=NOW)
    assert monday.date() == dt.date(2026, 11, 30)


def test_a_daylight_saving_date_gets_the_right_offset():
    summer = due_parse(text="2027-07-01T12:00", tz_name="Europe/Berlin", now=NOW)
    assert summer.utcoffset() == dt.timedelta(hours=2)


@pytest.mark.parametrize("text", ["", "   ", "whenever you like", "the 45th of Smarch", "x" * 101])
def test_it_refuses_what_is_not_a_date(text):
    with pytest.raises(InvalidInput) as caught:
        due_parse(text=text, tz_name="UTC", now=NOW)
    assert caught.value.code == "invalid_date"


def test_an_unknown_zone_falls_back_to_utc():
    assert due_parse(text="2026-12-01T10:00", tz_name="Mars/Olympus", now=NOW).utcoffset() == dt.timedelta(0)


def test_bounds_take_whole_days():
    assert due_parse(text="today", tz_name="Europe/Berlin", now=NOW, bound="start") == dt.datetime(
        2026, 11, 25, 0, 0, tzinfo=BERLIN
    )
    assert due_parse(text="2026-12-01", tz_name="Europe/Berlin", now=NOW, bound="end") == dt.datetime(
        2026, 12, 2, 0, 0, tzinfo=BERLIN
    )
    assert due_parse(text="friday", tz_name="Europe/Berlin", now=NOW, bound="end") == dt.datetime(
        2026, 11, 28, 0, 0, tzinfo=BERLIN
    )
    # A given time of day is kept whatever the bound.
    assert due_parse(text="tomorrow 5pm", tz_name="Europe/Berlin", now=NOW, bound="start").hour == 17
    assert due_parse(text="tomorrow 5pm", tz_name="Europe/Berlin", now=NOW, bound="end").hour == 17
