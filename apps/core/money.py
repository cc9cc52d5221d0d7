"""Money as people read it: US dollars with a currency sign, at least cents, and no trailing zeros
past them (a call can cost a fraction of a cent, so rounding to cents would show $0.00).

Amounts are stored as Decimals with up to 8 places (the ledger, prices, budgets, audit events); a
sum over them can come back with 19 (`0.0000216000000000000`). Every page and admin column shows them
through `money_format`, or the `money` template filter (apps/core/templatetags/money.py).
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

PLACES = Decimal("0.00000001")
NOT_A_FIGURE = "—"


def money_format(value: object) -> str:
    """`$1,234.50`, `$0.0000216`, `$0.00`; `—` for nothing (None, empty) or something not a number."""
    if value is None or value == "":
        return NOT_A_FIGURE
    try:
        amount = Decimal(str(value)).quantize(PLACES, rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        return NOT_A_FIGURE
    sign = "-" if amount < 0 else ""
    whole, _, fraction = f"{abs(amount):f}".partition(".")
    fraction = fraction.rstrip("0").ljust(2, "0")
    return f"{sign}${int(whole):,}.{fraction}"
