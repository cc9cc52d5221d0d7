"""Test databases for pytest-xdist workers: migrated once per run, then copied for each worker.

Migrating is the costliest part of a worker's start: 107 migrations whose model states Django
re-renders (182 field changes on models that point at the user) cost 15.7 s of CPU on the 2-vCPU
machine, and every worker of every mode paid it. Now the first worker to need a database migrates
the run's template (pytest-django's test database name, `test_<name>` or `var/test-db.sqlite3`)
while holding a lock; every worker then copies it with Django's own cloning, as Django's parallel
test runner does (PostgreSQL `CREATE DATABASE ... TEMPLATE`, a file copy for SQLite) into the name
that runner gives a clone: `test_<name>_gw0`, `var/test-db_gw0.sqlite3`. A copy takes well under a
second. The last worker to finish drops the template.

The template belongs to one run (pytest-xdist's run id names the folder holding the lock), so no
run ever copies another's, and an old template left by a killed run is dropped and made anew.
Outside pytest-xdist, or with --reuse-db, --no-migrations or a test that needs serialized rollback,
pytest-django's own setup runs unchanged (each worker migrating its own, suffixed database).
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest


def template_run_id(config: pytest.Config) -> str | None:
    """pytest-xdist's id of this run, when this process is one of its workers and may use a template."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None or workerinput.get("workercount", 1) < 2:
        return None
    option = config.option
    if getattr(option, "reuse_db", False) or getattr(option, "nomigrations", False):
        return None
    return workerinput["testrunuid"]


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    with open(folder / "lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _settle(connection) -> None:
    """Close a connection so its database can be copied: SQLite's write-ahead log folded in first."""
    if connection.vendor == "sqlite" and connection.connection is not None:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    connection.close()


def _drop(connection, name: str, verbosity: int) -> None:
    # As pytest-django does at the end of a run: a database a straggling connection still holds is
    # reported, not raised (the next run's setup drops it).
    try:
        connection.creation._destroy_test_db(name, verbosity)
    except Exception as exc:
        warnings.warn(f"Could not drop the test database {name}: {exc!r}", pytest.PytestWarning, stacklevel=1)


@contextlib.contextmanager
def cloned_databases(config: pytest.Config, run_id: str, aliases: set[str]) -> Iterator[None]:
    """Point this worker's connections at its own copy of the run's migrated template, then drop it."""
    from django.conf import settings
    from django.db import connections
    from django.test.utils import setup_databases

    workerinput = config.workerinput
    worker = workerinput["workerid"]
    folder = Path(tempfile.gettempdir()) / f"gateway-test-template-{run_id}"
    folder.mkdir(exist_ok=True)
    verbosity = config.option.verbose
    # Named before Django's creation renames the connection to its test database.
    templates = {alias: connections[alias].creation._get_test_db_name() for alias in aliases}
    with _locked(folder):
        if not (folder / "ready").exists():
            # Django's own creation: drops a template left by a killed run, migrates, syncs the roles.
            setup_databases(verbosity=verbosity, interactive=False, aliases=aliases)
            (folder / "ready").touch()
        for alias in sorted(aliases):
            connection = connections[alias]
            settings.DATABASES[alias]["NAME"] = templates[alias]
            connection.settings_dict["NAME"] = templates[alias]
            _settle(connection)
            connection.creation.clone_test_db(suffix=worker, verbosity=verbosity, autoclobber=True)
            connection.creation.setup_worker_connection(worker)
            settings.DATABASES[alias]["NAME"] = connection.settings_dict["NAME"]
    try:
        yield
    finally:
        for alias in sorted(aliases):
            connection = connections[alias]
            connection.close()
            _drop(connection, connection.settings_dict["NAME"], verbosity)
        with _locked(folder):
            finished = folder / "finished"
            count = len(finished.read_text()) + 1 if finished.exists() else 1
            finished.write_text("x" * count)
            if count == workerinput["workercount"]:
                for alias, template in templates.items():
                    _drop(connections[alias], template, verbosity)
                shutil.rmtree(folder, ignore_errors=True)
