"""The state every bench run starts from: a PostgreSQL database of its own and Redis keys of its own.

Figures used to get worse run after run, because the bench database kept every earlier run's tool
calls and audit events (append-only: a trigger refuses deletes). So bench_http.py runs its servers
against `<DATABASE_URL's name>_run`: dropped if it exists and created empty at the start, migrated,
and dropped again at the end unless --keep-database. The database DATABASE_URL names is never
created, changed or dropped here, only used to derive the name.

In Redis the run's Django cache (tool results, per-user cache versions that never expire, cached
policies) lives under a key prefix of its own, removed at the end; the other keys the servers use
carry no state from one run to the next (bench/README.md says why).
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import psycopg
from django.apps import apps
from psycopg import sql

RUN_SUFFIX = "_run"
# PostgreSQL cuts longer names to 63 bytes, which could turn `<name>_run` back into <name> itself.
NAME_MAX_BYTES = 63
# Databases to connect to for CREATE / DROP DATABASE (the run database cannot be used for its own drop).
MAINTENANCE_DATABASES = ("postgres", "template1")
CONNECT_TIMEOUT_SECONDS = 5


class RunDatabaseError(RuntimeError):
    """The run database cannot be made or dropped; the message says why, never with a password."""


def run_database_name(configured: str) -> str:
    """The run's database: the configured name plus `_run`, never the configured name itself."""
    if not configured:
        raise RunDatabaseError("DATABASE_URL names no database.")
    name = configured + RUN_SUFFIX
    if len(name.encode()) > NAME_MAX_BYTES:
        raise RunDatabaseError(
            f"The run database {name!r} would be longer than PostgreSQL's {NAME_MAX_BYTES} bytes, which would cut "
            "it to another name; use a shorter database name in DATABASE_URL."
        )
    return name


def check_droppable(name: str, *, configured: str) -> None:
    """Refuse to drop anything but the run database derived from `configured`."""
    if name == configured or name != run_database_name(configured):
        raise RunDatabaseError(f"Refusing to drop {name!r}: the bench drops only {configured + RUN_SUFFIX!r}.")


def url_with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + quote(name, safe="")))


def cache_key_prefix(stem: str) -> str:
    """CACHE_KEY_PREFIX for the run's servers: no key of an earlier run, or of another server, is seen."""
    return f"gw-bench-{stem}"


@dataclass(frozen=True)
class RunDatabase:
    configured: str
    name: str
    url: str
    configured_url: str

    @classmethod
    def from_url(cls, database_url: str) -> RunDatabase:
        from config.env import database_from_url

        # The settings' own parser, so the name is the one Django would connect to.
        configured = database_from_url("DATABASE_URL", database_url)["NAME"]
        name = run_database_name(configured)
        return cls(configured, name, url_with_database(database_url, name), database_url)

    def recreate(self) -> None:
        """An empty run database: one left by an interrupted run is dropped first."""
        with self._maintenance() as connection:
            self._drop(connection)
            try:
                connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))
            except psycopg.errors.InsufficientPrivilege:
                raise RunDatabaseError(
                    f"The bench creates a database of its own ({self.name!r}) and this role may not: "
                    "grant it CREATEDB, or run the bench as a role that has it."
                ) from None

    def drop(self) -> None:
        with self._maintenance() as connection:
            self._drop(connection)

    def exists(self) -> bool:
        with self._maintenance() as connection:
            found = connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [self.name]).fetchone()
        return found is not None

    def _drop(self, connection: psycopg.Connection) -> None:
        check_droppable(self.name, configured=self.configured)
        # FORCE: a server of an interrupted run may still hold connections; the database is the bench's own.
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name)))

    def _maintenance(self) -> psycopg.Connection:
        parts = urlsplit(self.configured_url)
        conninfo = urlunsplit(parts._replace(scheme="postgresql"))
        failure = ""
        # The configured database last: connecting to it changes nothing, and some roles may use only it.
        for database in (*MAINTENANCE_DATABASES, self.configured):
            try:
                return psycopg.connect(
                    conninfo, dbname=database, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS
                )
            except psycopg.OperationalError as exc:
                failure = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RunDatabaseError(f"Cannot connect to PostgreSQL to make the run database: {failure}")


def database_rows() -> dict[str, int]:
    """What the run left in its database (after every server stopped): the report states it."""
    from apps.audit.models import AuditEvent
    from apps.mcp_tools.models import ToolCall

    return {"tool_calls": ToolCall.objects.count(), "audit_events": AuditEvent.objects.count()}


def release_connections() -> None:
    """Close this process's connections and its pool, so nothing of ours holds the run database."""
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        connection.close()
        close_pool = getattr(connection, "close_pool", None)
        if close_pool is not None:
            close_pool()


def cache_keys_delete(prefix: str) -> int:
    """Delete the run's Django cache keys (the prefix is the run's own, so no other key is touched)."""
    from django_redis import get_redis_connection
    from django_redis.client.default import glob_escape

    client = get_redis_connection("default")
    deleted, batch = 0, []
    for key in client.scan_iter(match=f"{glob_escape(prefix)}:*", count=1000):
        batch.append(key)
        if len(batch) >= 500:
            deleted += client.delete(*batch)
            batch = []
    if batch:
        deleted += client.delete(*batch)
    return deleted


@contextmanager
def fresh_run(database: RunDatabase, stem: str, *, keep: bool) -> Iterator[dict]:
    """The run's database made empty and its environment set; afterwards, whatever ended the run,
    the run's cache keys deleted and its database dropped unless `keep`. Yields what the report states."""
    scratch = Path(tempfile.mkdtemp(prefix="gateway-bench-"))
    # Set before Django starts in the bench process, and inherited by every server it starts. The
    # audit checkpoints too: this database's checkpoints in the development server's file would read
    # there as a truncated chain.
    os.environ.update(
        DATABASE_URL=database.url,
        CACHE_KEY_PREFIX=cache_key_prefix(stem),
        AUDIT_CHECKPOINT_FILE=str(scratch / "audit-checkpoints.jsonl"),
    )
    # `kill` as well as Ctrl-C ends in the finally below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    run = {"database": database.name, "kept": keep, "cache_key_prefix": os.environ["CACHE_KEY_PREFIX"]}
    print(f"fresh database {database.name} (from DATABASE_URL's {database.configured})", flush=True)
    try:
        database.recreate()
        yield run
    finally:
        try:
            if apps.ready:
                cache_keys_delete(run["cache_key_prefix"])
                release_connections()
        finally:
            if keep:
                print(f"Kept the run database {database.name}; its audit checkpoints: {scratch}", flush=True)
            else:
                database.drop()
                shutil.rmtree(scratch, ignore_errors=True)
                print(f"Dropped the run database {database.name}", flush=True)
