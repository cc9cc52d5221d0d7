"""The one time-zone fallback: a user's zone by name, or UTC when it is unset or unknown; and the
zones people are offered to pick from."""

from __future__ import annotations

import importlib.resources
import zoneinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

UTC_ZONE = ZoneInfo("UTC")


@lru_cache(maxsize=256)
def zone_or_utc(name: str | None) -> ZoneInfo:
    """ZoneInfo(name); UTC for an empty name or one this system's tz database does not know
    (the model validates names on save, but rows can predate a tz database update)."""
    if not name:
        return UTC_ZONE
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError):
        return UTC_ZONE


@lru_cache(maxsize=1)
def known_timezones() -> frozenset[str]:
    """Every zone name this system's tz database knows. zoneinfo.available_timezones() walks the
    database's folders on every call (13 ms, on every sign-up and profile save); the database only
    changes with a package update, which a restart picks up."""
    return frozenset(zoneinfo.available_timezones())


# The IANA database's own list of zones for people to choose from: one line per country and region
# ("Europe/Berlin", "America/Argentina/Buenos_Aires"), without the aliases and artefacts the full
# list holds (`Factory`, `US/Eastern`, `Etc/GMT+5`, `EST5EDT`). From the pinned tzdata package.
ZONE_TAB = "zone.tab"


@lru_cache(maxsize=1)
def _offered_zones() -> tuple[str, ...]:
    text = importlib.resources.files("tzdata.zoneinfo").joinpath(ZONE_TAB).read_text(encoding="utf-8")
    names = {line.split("\t")[2] for line in text.splitlines() if line and not line.startswith("#")}
    return tuple(sorted(names & known_timezones()))


def _label(name: str) -> str:
    return " / ".join(part.replace("_", " ") for part in name.split("/")[1:])


def timezone_choices(current: str | None = None) -> list[tuple[str, object]]:
    """Grouped choices for a select: UTC first, then each region's places sorted by name. A current
    zone that is not on the list (an alias set through the API) is kept, so saving a form never changes it."""
    zones = set(_offered_zones())
    if current and current != "UTC" and current not in zones and current in known_timezones():
        zones.add(current)
    groups: dict[str, list[tuple[str, str]]] = {}
    for name in zones:
        region = name.split("/", 1)[0] if "/" in name else "Other"
        groups.setdefault(region, []).append((name, _label(name) or name))
    choices: list[tuple[str, object]] = [("UTC", "UTC")]
    for region in sorted(groups):
        choices.append((region, sorted(groups[region], key=lambda choice: choice[1])))
    return choices
