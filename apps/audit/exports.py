"""Audit rows as CSV or NDJSON lines, for every door that exports them (the API, the activity page).

A CSV export is opened in a spreadsheet, which runs a cell starting with `=`, `+`, `-` or `@` (and,
in some, a tab or carriage return first) as a formula: a failed sign-in with `User-Agent:
=HYPERLINK(...)` would plant one for the auditor. Every text cell that starts so gets a leading `'`
(OWASP, CSV injection), which spreadsheets show as text. NDJSON is JSON, read by programs, and stays
exactly what was stored.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

from apps.audit.selectors import LOG_FIELDS

EXPORT_FORMATS = ("csv", "ndjson")
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "ndjson": "application/x-ndjson"}


class _Echo:
    """csv.writer writes into this and gets the line back."""

    def write(self, value: str) -> str:
        return value


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell_neutralise(text: str) -> str:
    """The cell as a spreadsheet shows it as text, never runs it as a formula."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, str):
        return csv_cell_neutralise(value)
    # A number (duration, tokens, cost, ids) is a number to the spreadsheet, even negative.
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float | str | dict | list):
        return value
    return str(value)


def audit_csv_lines(*, rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(LOG_FIELDS)
    for row in rows:
        yield writer.writerow(
            [_text(json.dumps(row[name], sort_keys=True) if name == "data" else row[name]) for name in LOG_FIELDS]
        )


def audit_ndjson_lines(*, rows: Iterator[dict[str, Any]]) -> Iterator[str]:
    for row in rows:
        yield json.dumps({name: _json_value(row[name]) for name in LOG_FIELDS}, sort_keys=True) + "\n"


def audit_export_lines(*, rows: Iterator[dict[str, Any]], export_format: str) -> Iterator[str]:
    if export_format == "csv":
        return audit_csv_lines(rows=rows)
    return audit_ndjson_lines(rows=rows)
