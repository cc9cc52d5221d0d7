"""Aggregates that answer the same on every database.

Django quantizes a DecimalField column to its decimal places on SQLite, but not the sum of one:
SQLite sums in floating point and Django hands that back with 15 significant digits, so an amount
read 0.45000000 on PostgreSQL and 0.450000000000000 on the embedded default (in pages, the admin and
API bodies). DecimalSum quantizes the sum to the field's decimal places everywhere (a no-op on
PostgreSQL, whose numeric sum already has them).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.db.models import Sum


class DecimalSum(Sum):
    """Sum of a DecimalField, with the field's decimal places whichever the database."""

    def get_db_converters(self, connection: Any) -> list:
        places = self.output_field.decimal_places
        if places is None:
            return super().get_db_converters(connection)
        step = Decimal(1).scaleb(-places)

        def quantize(value: Decimal | None, expression: Any, connection: Any) -> Decimal | None:
            return None if value is None else Decimal(value).quantize(step)

        return [*super().get_db_converters(connection), quantize]
