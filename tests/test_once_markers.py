"""The markers that let .ci/run run a test once, in the default mode, hold what they claim.

own_environment: a test that starts settings in a fresh interpreter (tests/startup.py) never sees the
run's DATABASE_URL or REDIS_URL, and must say so; unmarked, start_settings refuses before it starts
anything. pure: a test that reaches no database, cache or broker; one that asks for the database is
refused at collection, and the cache is refused to it while it runs (conftest.py)."""

from __future__ import annotations

import pytest

import conftest
from tests.startup import start_settings


def test_a_test_not_marked_own_environment_cannot_start_settings(tmp_path):
    with pytest.raises(AssertionError, match=r"mark it @pytest\.mark\.own_environment"):
        start_settings(tmp_path)


@pytest.mark.own_environment
def test_a_marked_test_starts_them(tmp_path):
    assert start_settings(tmp_path, production=False, APP_ENV="development").returncode == 0


def test_the_cache_is_refused_to_a_pure_test(request):
    from django.core.cache import cache

    with conftest._cache_refused(request.node), pytest.raises(AssertionError, match="marked pure but uses the cache"):
        cache.get("anything")
    cache.get("anything")  # and given back afterwards


class _PureItem:
    nodeid = "apps/example/tests/test_x.py::test_y"

    def __init__(self, fixturenames: tuple[str, ...]) -> None:
        self.fixturenames = fixturenames

    def get_closest_marker(self, name: str):
        return pytest.mark.pure.mark if name == "pure" else None


def test_a_pure_test_that_asks_for_the_database_stops_the_collection(request):
    with pytest.raises(pytest.UsageError, match="marked pure but uses the database"):
        conftest._needs_apply(request.config, [_PureItem(("db",))])


@pytest.mark.pure
def test_a_pure_test_runs_without_either():
    from apps.audit.masking import MASK, mask_text

    assert mask_text("key sk-ant-" + "a" * 40) == f"key {MASK}"
