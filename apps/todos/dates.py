"""Reading due dates the way a person (or a model speaking for one) writes them.

ISO 8601 is taken as is (a naive one is read in the user's zone); anything else goes through
dateparser relative to "now" in the user's zone, preferring the future ("friday" is the coming one).
A phrase or date with no time of day ("tomorrow", "next friday", "2026-12-01") means the end of
that day, so a task due "tomorrow" is not overdue until tomorrow is over.

Supported due dates run from DUE_MIN to DUE_MAX (years 1900 to 2999, in UTC), with UTC offsets of at
most OFFSET_MAX: wide enough for any real plan, and far from the edges where an offset pushes a time
past what Python (years 1..9999) or PostgreSQL (offsets up to 15:59) can hold. Every door checks it:
tools through due_parse, REST through the serializer and the list filter, every service save through
the model field's validator.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from dateparser.date import DateDataParser
from django.core.exceptions import ValidationError
from django.utils import timezone

from apps.core.errors import InvalidInput
from apps.core.timezones import zone_or_utc

DATE_ONLY_TIME = dt.time(23, 59)
START_OF_DAY = dt.time(0, 0)
PHRASE_MAX_LENGTH = 100
_DATE_PERIODS = {"day", "week", "month", "year"}

DUE_MIN = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
DUE_MAX = dt.datetime(3000, 1, 1, tzinfo=dt.UTC)  # exclusive: the last supported year is 2999
# Real zones use offsets from -12:00 to +14:00; ISO 8601 allows up to ±23:59, PostgreSQL only ±15:59.
OFFSET_MAX = dt.timedelta(hours=14)
DUE_RANGE_MESSAGE = "Dates must be between 1900-01-01 and 2999-12-31 (UTC), with a UTC offset of at most ±14:00."


def due_supported(value: dt.datetime) -> dt.datetime:
    """The same instant in UTC if it is a supported due date; ValueError (DUE_RANGE_MESSAGE) otherwise.

    UTC, so PostgreSQL never sees an offset it cannot parse, whatever offset the client wrote.
    """
    offset = value.utcoffset()
    if offset is None:
        raise ValueError("A due date needs a time zone.")
    if abs(offset) > OFFSET_MAX:
        raise ValueError(DUE_RANGE_MESSAGE)
    try:
        utc = value.astimezone(dt.UTC)
    except OverflowError:
        # Year 1 at +14:00 is year 0 in UTC, year 9999 at -14:00 is year 10000: neither exists here.
        raise ValueError(DUE_RANGE_MESSAGE) from None
    if not DUE_MIN <= utc < DUE_MAX:
        raise ValueError(DUE_RANGE_MESSAGE)
    return utc


def validate_due_at(value: dt.datetime | None) -> None:
    """The model field's validator: every save through a service (and the admin) checks the range."""
    if value is None:
        return
    try:
        due_supported(value)
    except ValueError as exc:
        raise ValidationError(str(exc), code="date_out_of_range") from None


def _day_at(day: dt.date, tz: ZoneInfo, bound: str) -> dt.datetime:
    if bound == "start":
        return dt.datetime.combine(day, START_OF_DAY, tzinfo=tz)
    if bound == "end":
        # Exclusive upper bound: everything on that day is before the next day's first instant.
        return dt.datetime.combine(day + dt.timedelta(days=1), START_OF_DAY, tzinfo=tz)
    return dt.datetime.combine(day, DATE_ONLY_TIME, tzinfo=tz)


def _iso(text: str, tz: ZoneInfo, bound: str) -> dt.datetime | None:
    if len(text) == 10:
        try:
            day = dt.date.fromisoformat(text)
        except ValueError:
            return None
        return _day_at(day, tz, bound)
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return value.replace(tzinfo=tz) if timezone.is_naive(value) else value


def due_parse(*, text: str, tz_name: str | None, now: dt.datetime | None = None, bound: str = "due") -> dt.datetime:
    """ISO 8601 or a natural phrase -> an aware datetime; InvalidInput (code invalid_date) otherwise,
    also for a date outside the supported range.

    A day without a time of day becomes, by `bound`: "due" 23:59 that day (a due date), "start" its
    first instant (a lower bound: "due after today" includes all of today), "end" the next day's first
    instant (an exclusive upper bound: "due before friday" includes what is due on friday).
    """
    if bound not in {"due", "start", "end"}:
        raise ValueError(f"Unknown bound {bound!r}.")
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("Give a date, e.g. '2026-12-01T17:00' or 'tomorrow 5pm'.", code="invalid_date")
    text = " ".join(text.split())
    if len(text) > PHRASE_MAX_LENGTH:
        raise InvalidInput("That date is too long to be a date.", code="invalid_date")
    tz = zone_or_utc(tz_name)
    try:
        value = _parsed(text, tz, bound, now)
    except OverflowError:
        # A day at the very end of year 9999 has no next day to bound it.
        raise InvalidInput(DUE_RANGE_MESSAGE, code="invalid_date") from None
    try:
        due_supported(value)
    except ValueError as exc:
        raise InvalidInput(str(exc), code="invalid_date") from None
    return value


def _parsed(text: str, tz: ZoneInfo, bound: str, now: dt.datetime | None) -> dt.datetime:
    parsed = _iso(text, tz, bound)
    if parsed is not None:
        return parsed
    local_now = (now or timezone.now()).astimezone(tz)
    parser = DateDataParser(
        languages=["en"],
        settings={
            "TIMEZONE": str(tz),
            "RETURN_AS_TIMEZONE_AWARE": True,
            "PREFER_DATES_FROM": "future",
            "RELATIVE_BASE": local_now.replace(tzinfo=None),
            "RETURN_TIME_AS_PERIOD": True,
        },
    )
    data = parser.get_date_data(text)
    if data is None or data.date_obj is None:
        raise InvalidInput(
            f"Could not read {text!r} as a date; try '2026-12-01T17:00', 'tomorrow 5pm' or 'next friday'.",
            code="invalid_date",
        )
    value = data.date_obj.astimezone(tz)
    if data.period in _DATE_PERIODS:
        value = _day_at(value.date(), tz, bound)
    return value
