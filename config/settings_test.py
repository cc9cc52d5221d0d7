"""Test settings: the real settings in development mode, with tasks run in-process.

DATABASE_URL and REDIS_URL still decide which database and cache the tests use, so CI runs the
same suite against PostgreSQL and Redis.
"""

import atexit
import os
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from django.core.exceptions import ImproperlyConfigured

os.environ.setdefault("APP_ENV", "development")

# Each test process (each pytest-xdist worker: gw0, gw1, ...) keeps its mutable state apart from every
# other's: its own temporary folder for audit checkpoints and the filesystem broker, and its own Redis
# database (the URL's number plus the worker's index, so REDIS_URL=.../5 with two workers uses 5 and 6).
# Each worker gets its own test database, a copy of one migrated per run (config/test_databases.py:
# test_<name>_gw0, var/test-db_gw0.sqlite3).
# All of it goes into the environment, so the processes a test starts (servers, workers, shells) share
# their test process's state; a worker inherits its controller's environment, hence the owner check.
_OWNER = os.environ.get("PYTEST_XDIST_WORKER", "main")
if os.environ.get("GATEWAY_TEST_OWNER") != _OWNER:
    os.environ["GATEWAY_TEST_OWNER"] = _OWNER
    _test_dir = tempfile.mkdtemp(prefix=f"gateway-tests-{_OWNER}-")
    atexit.register(shutil.rmtree, _test_dir, ignore_errors=True)
    os.environ["GATEWAY_TEST_DIR"] = _test_dir
    # Checkpoints of this test run's audit chain, not the development server's in var/ (a checkpoint
    # from another database reads as a truncated chain).
    os.environ["AUDIT_CHECKPOINT_FILE"] = os.path.join(_test_dir, "audit-checkpoints.jsonl")
    if _OWNER.startswith("gw") and os.environ.get("REDIS_URL"):
        _redis = urlsplit(os.environ["REDIS_URL"])
        _database = int(_redis.path.strip("/") or 0) + int(_OWNER[2:])
        if _redis.scheme not in {"redis", "rediss"} or _database > 15:
            raise ImproperlyConfigured(
                f"pytest-xdist worker {_OWNER} cannot have a Redis database of its own next to {_redis.scheme}://"
                f"...{_redis.path}: use a redis:// URL with a lower database number, fewer workers, or -n 0."
            )
        os.environ["REDIS_URL"] = urlunsplit(_redis._replace(path=f"/{_database}"))
TEST_DIR = Path(os.environ["GATEWAY_TEST_DIR"])
os.environ.setdefault("LOG_LEVEL", "warning")
# Tests of revocation expect it at once in every process they start; the cache's own tests turn it
# on and prove its bound (apps/accounts/tests/test_principal_cache.py).
os.environ.setdefault("PRINCIPAL_CACHE_SECONDS", "0")
# Generous request rates by default: suites that make many requests (schema fuzzing, lockouts) test
# other things; the quota tests set the rates they test.
os.environ.setdefault("QUOTA_USER_RATE", "100000/minute")
os.environ.setdefault("QUOTA_USER_BURST", "100000")
os.environ.setdefault("QUOTA_ANON_RATE", "100000/minute")
os.environ.setdefault("QUOTA_ANON_BURST", "100000")

from config.settings import *  # noqa: E402, F403 - after the environment above is settled
from config.settings import CELERY_BROKER_URL, DATABASES, VAR_DIR  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
# The loopback fake providers live on 127.0.0.1; one test turns this off to prove the guard.
PROVIDER_ALLOW_PRIVATE_NETWORKS = True
# Short, so a stalled fake provider (10 s) times out quickly; not shorter, since a loaded CI machine can
# take well over half a second to answer from the fake (0.5 s once turned an answer into "unreachable").
PROVIDER_VALIDATION_TIMEOUT_SECONDS = 2

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not :memory:, so a worker process started by a test sees the same database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
    # A test database need not survive a power cut: no fsync on every commit (it was 1.7 ms each).
    DATABASES["default"]["OPTIONS"] = {
        **DATABASES["default"].get("OPTIONS", {}),
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF;",
    }

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend with a flush that empties only the tables holding rows (config/test_postgresql).
    DATABASES["default"]["ENGINE"] = "config.test_postgresql"
    # Nor a PostgreSQL commit to wait for its WAL flush: a test database need not survive a crash.
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options["options"] = f"{_options.get('options', '')} -c synchronous_commit=off".strip()

# Tests run with DEBUG off (pytest-django), so WhiteNoise would index every static file the finders
# know each time a test client loads the middleware (about 10 ms per client); looking a file up when
# it is asked for, as in development, serves the same files.
WHITENOISE_AUTOREFRESH = True

if CELERY_BROKER_URL == "filesystem://":
    # The broker's folders too: a worker started by a test must not take another test process's messages.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(TEST_DIR / "celery" / "queue"),
        "data_folder_out": str(TEST_DIR / "celery" / "queue"),
        "processed_folder": str(TEST_DIR / "celery" / "processed"),
        "control_folder": str(TEST_DIR / "celery" / "control"),
        "store_processed": False,
    }
