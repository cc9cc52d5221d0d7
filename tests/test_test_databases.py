"""A pytest-xdist worker's database is its own, fully migrated copy of the run's template
(config/test_databases.py), on SQLite and PostgreSQL alike."""

from __future__ import annotations

import os

import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from apps.accounts.models import User
from apps.accounts.roles import ROLES


@pytest.mark.django_db
def test_a_worker_has_a_database_of_its_own_with_every_migration_applied():
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is not None:
        assert connection.settings_dict["NAME"].removesuffix(".sqlite3").endswith(f"_{worker}")
    executor = MigrationExecutor(connection)
    # Nothing left to apply: the copy carries every migration the code has, ours and the packages'.
    assert executor.migration_plan(executor.loader.graph.leaf_nodes()) == []
    applied = executor.loader.applied_migrations
    assert ("audit", "0004_event_mac_and_forged") in applied
    assert ("oauth2_provider", "0022_refreshtoken_token_family_index") in applied
    # What migrate writes, not only the tables: the roles synced after migrate came along, no user.
    assert User.objects.count() == 0
    assert set(ROLES) <= set(Group.objects.values_list("name", flat=True))
