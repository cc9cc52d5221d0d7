"""A test that starts settings in a fresh interpreter (tests/startup.py) must say so with the
own_environment marker: .ci/run then runs it once, in the default mode, since it never sees the run's
DATABASE_URL or REDIS_URL. Unmarked, start_settings refuses before it starts anything."""

from __future__ import annotations

import pytest

from tests.startup import start_settings


def test_a_test_not_marked_own_environment_cannot_start_settings(tmp_path):
    with pytest.raises(AssertionError, match=r"mark it @pytest\.mark\.own_environment"):
        start_settings(tmp_path)


@pytest.mark.own_environment
def test_a_marked_test_starts_them(tmp_path):
    assert start_settings(tmp_path, production=False, APP_ENV="development").returncode == 0
