"""The test suite's PostgreSQL backend (config/settings_test.py): Django's own, with a cheaper flush.

A transactional test (a live server, a second thread or process) ends with a flush of every table.
Django's is one TRUNCATE of all ~70 tables, which gives each table and index new files: about a
second of the database server's time per test, most of PostgreSQL mode's extra cost. Here the flush
empties only the tables that hold rows, with DELETE, in one transaction with triggers and foreign-key
checks off (session_replication_role = replica: the audit trail's append-only triggers would refuse
the DELETE, and the order of the tables no longer matters). That needs a superuser, which the test
database's owner is on CI and in the README's setup; any other role gets Django's TRUNCATE.
"""

from __future__ import annotations

from django.db.backends.postgresql import base as postgresql


class DatabaseOperations(postgresql.DatabaseOperations):
    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if not tables or reset_sequences or allow_cascade or not self._superuser():
            return super().sql_flush(style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        quoted = [self.quote_name(table) for table in tables]
        probe = " UNION ALL ".join(
            # Quoted table names from Django's own model list, not input.
            f"SELECT {index} FROM (SELECT 1 FROM {name} LIMIT 1) AS t{index}"  # noqa: S608
            for index, name in enumerate(quoted)
        )
        with self.connection.cursor() as cursor:
            cursor.execute(probe)
            holding = sorted(row[0] for row in cursor.fetchall())
        if not holding:
            return []
        # SET LOCAL: execute_sql_flush runs these in one transaction, and the setting ends with it.
        return [
            "SET LOCAL session_replication_role = replica",
            *(f"{style.SQL_KEYWORD('DELETE FROM')} {style.SQL_FIELD(quoted[index])}" for index in holding),
        ]

    def _superuser(self) -> bool:
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            row = cursor.fetchone()
        return bool(row and row[0])


class DatabaseWrapper(postgresql.DatabaseWrapper):
    ops_class = DatabaseOperations
