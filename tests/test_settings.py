"""Settings load in a fresh interpreter, as at start-up, with a controlled environment."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.startup import start_settings

# Starts its processes with an environment of its own, never the run's DATABASE_URL or REDIS_URL.
pytestmark = pytest.mark.own_environment

# Loads the settings (where every value is read and checked) without setting up the apps, which
# costs ten times as much and decides none of these values.
PROBE = (
    "import json; from django.conf import settings as s; "
    "print(json.dumps({'engine': s.DATABASES['default']['ENGINE'], 'db_name': str(s.DATABASES['default']['NAME']), "
    "'cache': s.CACHES['default']['BACKEND'], 'broker': s.CELERY_BROKER_URL, 'debug': s.DEBUG, "
    "'hosts': s.ALLOWED_HOSTS, 'db_options': {k: v for k, v in s.DATABASES['default'].get('OPTIONS', {}).items() "
    "if k == 'pool'}}))"
)


def load_settings(tmp_path: Path, **env: str | None) -> subprocess.CompletedProcess:
    return start_settings(tmp_path, code=PROBE, production=False, **env)


def test_without_database_or_redis_urls_the_embedded_defaults_are_used(tmp_path):
    result = load_settings(tmp_path, APP_ENV="development")
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["engine"] == "django.db.backends.sqlite3"
    assert loaded["db_name"] == str(tmp_path / "db.sqlite3")
    assert loaded["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert loaded["broker"] == "filesystem://"
    assert loaded["debug"] is True


def test_database_and_redis_urls_switch_to_postgresql_and_redis(tmp_path):
    result = load_settings(
        tmp_path,
        APP_ENV="development",
        DATABASE_URL="postgres://app:pw@db.internal:5432/gateway",
        REDIS_URL="redis://cache.internal:6379/2",
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["engine"] == "django.db.backends.postgresql"
    assert loaded["db_name"] == "gateway"
    assert loaded["cache"] == "django_redis.cache.RedisCache"
    assert loaded["broker"] == "redis://cache.internal:6379/2"
    # Each process pools its PostgreSQL connections: ASGI would otherwise open one per request.
    assert loaded["db_options"]["pool"]["max_size"] == 8


def test_the_connection_pool_can_be_sized_or_turned_off(tmp_path):
    url = "postgres://app:pw@db.internal:5432/gateway"
    sized = load_settings(tmp_path, APP_ENV="development", DATABASE_URL=url, DATABASE_POOL_MAX_SIZE="20")
    assert json.loads(sized.stdout)["db_options"]["pool"]["max_size"] == 20
    off = load_settings(tmp_path, APP_ENV="development", DATABASE_URL=url, DATABASE_POOL_MAX_SIZE="0")
    assert json.loads(off.stdout)["db_options"] == {}


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("garbage", "DATABASE_URL must start with postgres://"),
        ("mysql://u:pw@host/db", "DATABASE_URL must start with postgres://"),
        ("postgres://u:s3cretpw@host:notaport/db", "DATABASE_URL is malformed"),
        ("postgres://u:s3cretpw@host:5432/", "DATABASE_URL names no database"),
    ],
)
def test_a_malformed_database_url_stops_start_up_with_a_clear_message(tmp_path, url, message):
    result = load_settings(tmp_path, APP_ENV="development", DATABASE_URL=url)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert message in result.stderr
    assert "s3cretpw" not in result.stderr


def test_a_malformed_redis_url_stops_start_up(tmp_path):
    result = load_settings(tmp_path, APP_ENV="development", REDIS_URL="http://cache:6379")
    assert result.returncode != 0
    assert "REDIS_URL must start with redis://" in result.stderr


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = start_settings(tmp_path, code=PROBE, SECRET_KEY=None)
    assert result.returncode != 0
    assert "SECRET_KEY must be set in production" in result.stderr


def test_production_refuses_to_start_without_allowed_hosts(tmp_path):
    result = start_settings(tmp_path, code=PROBE, ALLOWED_HOSTS=None)
    assert result.returncode != 0
    assert "ALLOWED_HOSTS" in result.stderr


def test_production_is_not_in_debug_and_reads_secrets_from_files(tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("y" * 50 + "\n")
    result = start_settings(
        tmp_path, code=PROBE, SECRET_KEY=None, SECRET_KEY_FILE=str(secret_file), ALLOWED_HOSTS="gw.example.com"
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout)
    assert loaded["debug"] is False
    assert loaded["hosts"] == ["gw.example.com"]


@pytest.mark.parametrize(
    ("name", "value"),
    [("DEBUG", "maybe"), ("APP_ENV", "staging"), ("JWT_ACCESS_MINUTES", "five"), ("AXES_FAILURE_LIMIT", "0")],
)
def test_bad_values_are_refused_at_start_up(tmp_path, name, value):
    result = load_settings(tmp_path, **{"APP_ENV": "development", name: value})
    assert result.returncode != 0
    assert name in result.stderr.splitlines()[-1]


def test_the_pool_timeout_is_short_and_may_be_a_fraction_of_a_second(tmp_path):
    url = "postgres://app:pw@db.internal:5432/gateway"
    default = load_settings(tmp_path, APP_ENV="development", DATABASE_URL=url)
    assert json.loads(default.stdout)["db_options"]["pool"]["timeout"] <= 1
    fraction = load_settings(tmp_path, APP_ENV="development", DATABASE_URL=url, DATABASE_POOL_TIMEOUT="0.25")
    assert json.loads(fraction.stdout)["db_options"]["pool"]["timeout"] == 0.25
    bad = load_settings(tmp_path, APP_ENV="development", DATABASE_URL=url, DATABASE_POOL_TIMEOUT="soon")
    assert bad.returncode != 0 and "DATABASE_POOL_TIMEOUT must be a number" in bad.stderr


def test_one_body_limit_governs_every_path(tmp_path):
    probe = (
        "from django.conf import settings as s; "
        "print(s.MAX_REQUEST_BODY_BYTES, s.DATA_UPLOAD_MAX_MEMORY_SIZE, s.MCP_MAX_REQUEST_BYTES)"
    )
    limited = start_settings(tmp_path, code=probe, production=False, APP_ENV="development", MAX_REQUEST_BYTES="4096")
    assert limited.stdout.split() == ["4096", "4096", "4096"]
    stale = start_settings(tmp_path, code=probe, production=False, APP_ENV="development", MCP_MAX_REQUEST_BYTES="9")
    assert stale.returncode != 0 and "MAX_REQUEST_BYTES limits every path" in stale.stderr
