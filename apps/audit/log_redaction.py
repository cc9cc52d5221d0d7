"""A logging filter that keeps credentials out of every log line, whatever the level.

Attached to the handlers in settings.LOGGING, so it sees records from every logger (a filter on a
logger would miss records propagated from its children). Django's SQL debug logging prints each
statement with its parameters filled in, which is how refresh tokens, session keys and password
hashes reached development logs: SQL keeps its shape and loses every string value. Everything else
is masked by the audit trail's patterns (JWTs, gw_pat_ tokens, provider keys, password hashes),
including exception text.
"""

from __future__ import annotations

import logging
from collections.abc import Sized

from apps.audit.masking import mask_text, sql_literals_redact

SQL_LOGGER = "django.db.backends"
SQL_MESSAGE = "(%.3f) %s; args=%s; alias=%s"  # django.db.backends.utils.CursorDebugWrapper.debug_sql


def _is_sql(record: logging.LogRecord) -> bool:
    return record.name == SQL_LOGGER or record.name.startswith(SQL_LOGGER + ".")


def _redacted_message(record: logging.LogRecord) -> str:
    args = record.args
    if _is_sql(record) and record.msg == SQL_MESSAGE and isinstance(args, tuple) and len(args) == 4:
        duration, sql, params, alias = args
        count = len(params) if isinstance(params, Sized) else 0
        return f"({duration:.3f}) {sql_literals_redact(str(sql))}; args=[{count} redacted]; alias={alias}"
    message = record.getMessage()
    return sql_literals_redact(message) if _is_sql(record) else message


class CredentialRedactionFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = _redacted_message(record)
        except Exception:  # a malformed record must not break logging; its arguments are dropped
            message = str(record.msg)
        record.msg, record.args = mask_text(message), ()
        if _is_sql(record):
            # The same statement and values travel as `extra` for structured formatters.
            if hasattr(record, "sql"):
                record.sql = sql_literals_redact(str(record.sql))
            if hasattr(record, "params"):
                record.params = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True
