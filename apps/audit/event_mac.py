"""Each event's MAC, computed by the application as it writes the event, so a row that reached the
table any other way (an INSERT with the table's rights, a sealed row nulled and rewritten) is told
apart from the application's own before the sealer chains it.

The MAC is HMAC-SHA256 under the current AUDIT_CHAIN_KEYS secret (`mac_key_version` says which)
over a canonical form of every content column. It is computed from the values before the INSERT and
checked against the values the database gives back, on PostgreSQL and SQLite alike, so the form
only holds what survives that round trip:

- `created_at` as integer microseconds since the epoch in UTC (both databases keep microseconds;
  no time zone or ISO spelling can differ);
- `data` as JSON with sorted keys (jsonb reorders keys); the writer stores a float with an
  integral value as the integer its shortest spelling names (`json_float`: jsonb gives back 1e16
  as 10000000000000000, an int), so what is stored and what comes back are the same values;
- `duration_ms` as a float, `tokens` and the ids as integers, `cost` at the column's 8 places;
- text columns as text. ASCII-escaped JSON of the list, so any string encodes.

One HMAC over a few hundred bytes: a few microseconds on the hot path, no query.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from decimal import Decimal
from typing import Any

from django.conf import settings

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
ONE_MICROSECOND = dt.timedelta(microseconds=1)
COST_PLACES = Decimal("1E-8")  # AuditEvent.cost's decimal_places
MESSAGE_PREFIX = b"audit-event-mac\n"  # never the start of a chain message (64 hex digits)
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"))  # ASCII-escaped: any string encodes


def cost_quantize(value: Any) -> Decimal:
    """The cost as the column keeps it (8 places), so the MAC's value is the stored one."""
    return Decimal(str(value)).quantize(COST_PLACES)


def json_float(text: str) -> float | int:
    """A JSON number with a fraction or exponent as `data` keeps it (json.loads' parse_float): a
    float, or the integer it names when its value is integral, as jsonb would give it back."""
    value = float(text)
    return int(Decimal(text)) if value.is_integer() else value


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def event_mac_message(event: Any, *, version: str) -> bytes:
    """The canonical form, field by field (a loop over names with a branch each cost four times as much)."""
    e = event
    created = (e.created_at - EPOCH) // ONE_MICROSECOND
    cost = None if e.cost is None else f"{cost_quantize(e.cost):f}"
    duration = None if e.duration_ms is None else float(e.duration_ms)
    content = [
        version, created, _int(e.actor_id), str(e.actor_label), str(e.actor_type), _int(e.token_id),
        _int(e.subject_id), str(e.category), str(e.action), str(e.outcome), str(e.error_code),
        str(e.target_type), str(e.target_id), e.data, str(e.request_id), str(e.client_address),
        str(e.user_agent), str(e.door), duration, _int(e.tokens), cost,
    ]  # fmt: skip
    return MESSAGE_PREFIX + _ENCODER.encode(content).encode()


def _digest(secret: str, message: bytes) -> str:
    return hmac.digest(secret.encode(), message, hashlib.sha256).hex()


def event_mac_set(event: Any) -> None:
    """Set `mac` and `mac_key_version` from the event's content, under the current key."""
    version, secret = settings.AUDIT_CHAIN_KEYRING[0]
    event.mac_key_version = version
    event.mac = _digest(secret, event_mac_message(event, version=version))


def event_mac_valid(event: Any, keys: dict[str, str]) -> bool:
    """True when a key of ours made this event's MAC over exactly its content."""
    secret = keys.get(event.mac_key_version or "")
    if secret is None or not event.mac:
        return False
    try:
        message = event_mac_message(event, version=event.mac_key_version)
    except (TypeError, ValueError, ArithmeticError):
        return False  # a value no writer of ours produces
    return hmac.compare_digest(_digest(secret, message), event.mac)
