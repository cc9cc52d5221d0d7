"""Make sure the configured PostgreSQL database exists before `migrate` (what `make run` does first).

A missing database otherwise surfaces as a dozen FATAL lines and a connection-pool timeout. This
connects once, without the pool: if the database is missing and the role may create it, it is created;
any other failure is one line saying what to do.
"""

from __future__ import annotations

import psycopg
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from psycopg import sql

MAINTENANCE_DATABASES = ("postgres", "template1")


class Command(BaseCommand):
    help = "Create the PostgreSQL database named in DATABASE_URL if it does not exist and the role may create it."
    requires_system_checks: list[str] = []

    def handle(self, *args, **options) -> None:
        connection = connections["default"]
        if connection.vendor != "postgresql":
            return  # SQLite creates its file on first use.
        params = connection.get_connection_params()
        name, user = params["dbname"], params.get("user") or "(default)"
        where = f"{params.get('host') or 'localhost'}:{params.get('port') or 5432}"
        try:
            psycopg.connect(**params).close()
            return
        except psycopg.OperationalError as exc:
            failure = _reason(exc)

        maintenance = _maintenance_connection(params)
        if maintenance is None:
            raise CommandError(
                f"Cannot connect to PostgreSQL at {where} as {user}: {failure}. "
                "Start PostgreSQL or fix the host, user and password in DATABASE_URL."
            )
        with maintenance:
            exists = maintenance.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if exists:
                raise CommandError(f"Cannot connect to database {name!r} at {where} as {user}: {failure}.")
            try:
                maintenance.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            except psycopg.errors.InsufficientPrivilege:
                raise CommandError(
                    f"Database {name!r} does not exist at {where} and role {user} may not create it: create it as "
                    f"an administrator (createdb -h {params.get('host') or 'localhost'} -O {user} {name}), "
                    "or point DATABASE_URL at an existing database."
                ) from None
        self.stdout.write(f"Created PostgreSQL database {name!r} at {where}.")


def _maintenance_connection(params: dict) -> psycopg.Connection | None:
    for database in MAINTENANCE_DATABASES:
        try:
            return psycopg.connect(**{**params, "dbname": database}, autocommit=True)
        except psycopg.OperationalError:
            continue
    return None


def _reason(exc: psycopg.OperationalError) -> str:
    # 'connection failed: connection to server at "h", port 5432 failed: FATAL:  <reason>' -> '<reason>'
    first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return first_line.rsplit("failed: ", 1)[-1].replace("FATAL:", "").strip()
