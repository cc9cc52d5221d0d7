"""Test settings: the real settings in development mode, with tasks run in-process.

DATABASE_URL and REDIS_URL still decide which database and cache the tests use, so CI runs the
same suite against PostgreSQL and Redis.
"""

import os
import tempfile

os.environ.setdefault("APP_ENV", "development")
# Checkpoints of this test run's audit chain, not the development server's in var/ (a checkpoint
# from another database reads as a truncated chain). In the environment, so processes a test starts
# share the file.
os.environ.setdefault(
    "AUDIT_CHECKPOINT_FILE", os.path.join(tempfile.mkdtemp(prefix="gateway-tests-"), "audit-checkpoints.jsonl")
)
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

from config.settings import *  # noqa: F403
from config.settings import DATABASES, VAR_DIR

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True
# The loopback fake providers live on 127.0.0.1; one test turns this off to prove the guard.
PROVIDER_ALLOW_PRIVATE_NETWORKS = True
PROVIDER_VALIDATION_TIMEOUT_SECONDS = 2

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A file, not :memory:, so a worker process started by a test sees the same database.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-db.sqlite3")}
