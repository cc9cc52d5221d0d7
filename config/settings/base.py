"""Settings, part 1: where things are, the Django apps and middleware, database, cache, Celery,
static files and logging. The other parts import what they need from here."""

from __future__ import annotations

import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config.env import (
    database_from_url,
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_secret,
    env_str,
    is_set,
    redis_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(env_str("VAR_DIR", str(BASE_DIR / "var")))

APP_ENV = env_choice("APP_ENV", "production", {"production", "development"})
DEVELOPMENT = APP_ENV == "development"

DEBUG = env_bool("DEBUG", default=DEVELOPMENT)

SECRET_KEY = env_secret(
    "SECRET_KEY",
    development=DEVELOPMENT,
    dev_file=VAR_DIR / "dev-secret-key",
    generate=lambda: secrets.token_urlsafe(50),
    min_length=32,
)

if is_set("ALLOWED_HOSTS") or not DEVELOPMENT:
    ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [])
    if not ALLOWED_HOSTS:
        raise ImproperlyConfigured("ALLOWED_HOSTS must list this service's host names in production.")
else:
    ALLOWED_HOSTS = ["localhost", "127.0.0.1", "[::1]", "testserver"]
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

# Public base URL, used for absolute links such as the MCP protected-resource metadata.
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    # The admin with every change written to the audit trail (apps/audit/admin_site.py).
    "apps.audit.admin_site.GatewayAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    # Swagger UI's assets served by the product at the pinned version: /api/docs/ works offline.
    "drf_spectacular_sidecar",
    "csp",
    "django_celery_beat",
    "axes",
    "oauth2_provider",
    "apps.core",
    "apps.accounts",
    "apps.todos",
    "apps.audit",
    "apps.mcp_tools",
    "apps.providers",
    "apps.chat",
    "apps.keys",
    "apps.quotas",
    "apps.web",
]

MIDDLEWARE = [
    # First, so it runs last: the request's database connection goes back to the pool before the
    # response is sent, not after a slow client has read it.
    "apps.core.database.ConnectionReleaseMiddleware",
    # Under ASGI a streamed response (exports, WhiteNoise's files) is pulled a batch at a time, not read
    # whole before its first byte (apps.core.streaming).
    "apps.core.streaming.AsyncStreamingMiddleware",
    # Then, before anything validates Host or redirects to HTTPS: container and load-balancer probes
    # call http://127.0.0.1:8000 whatever the public host
    # name is, so /healthz and /readyz answer here.
    "apps.core.health.health_probe_middleware",
    # Client address, user agent and door for the audit trail (see apps.core.request_context).
    "apps.core.request_context_middleware.RequestContextMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # django-csp's, with the header text built once per setting (apps.core.csp).
    "apps.core.csp.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # RateLimit-* headers on every REST response whose request was counted (apps.quotas.throttle).
    "apps.quotas.throttle.rate_limit_headers_middleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires, so it sees the outcome of authentication.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = None
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "apps.web.context_processors.site",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
if is_set("DATABASE_URL"):
    _database = database_from_url("DATABASE_URL", env_str("DATABASE_URL"))
else:
    # Its folder is made by apps.core at start-up (settings write no files).
    _database = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(VAR_DIR / "db.sqlite3")}
if _database["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the worker write while the web server reads; the timeout absorbs short write locks.
    _database.setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
else:
    _database.setdefault("OPTIONS", {}).setdefault("connect_timeout", env_int("DATABASE_CONNECT_TIMEOUT", 5))
    # Under ASGI every request's ORM work runs on a fresh thread, so without a pool each request
    # opens a new PostgreSQL connection (~4 ms, half of a cached tool call). So each process keeps a
    # psycopg pool; size it so processes x DATABASE_POOL_MAX_SIZE stays under max_connections, or
    # set 0 behind an external pooler such as PgBouncer.
    _pool_max = env_int("DATABASE_POOL_MAX_SIZE", 8, minimum=0, maximum=200)
    if _pool_max:
        _database["OPTIONS"]["pool"] = {
            "min_size": min(2, _pool_max),
            "max_size": _pool_max,
            # Seconds a request waits for a pooled connection. Short on purpose: when every connection
            # is busy (or PostgreSQL is down) a quick 503 with Retry-After beats a queue of hung requests.
            "timeout": env_float("DATABASE_POOL_TIMEOUT", 0.5, minimum=0.05, maximum=60),
        }
    else:
        _database["CONN_HEALTH_CHECKS"] = True
DATABASES = {"default": _database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache, broker ----------------------------------------------------------------------------
REDIS_URL = redis_url("REDIS_URL", env_str("REDIS_URL")) if is_set("REDIS_URL") else ""
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env_str("CACHE_KEY_PREFIX", "gw"),
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.DefaultClient",
                "SOCKET_CONNECT_TIMEOUT": 2,
                "SOCKET_TIMEOUT": 2,
            },
        }
    }
    CELERY_BROKER_URL = REDIS_URL
    CELERY_RESULT_BACKEND = REDIS_URL
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "gateway"}}
    # Without Redis a real worker still runs: kombu's filesystem transport passes messages
    # through files under var/, so the embedded default has the same moving parts as production.
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(VAR_DIR / "celery" / "queue"),
        "data_folder_out": str(VAR_DIR / "celery" / "queue"),
        "processed_folder": str(VAR_DIR / "celery" / "processed"),
        # Broadcast bindings (worker pidbox, ping); kombu would otherwise write ./control in the working directory.
        "control_folder": str(VAR_DIR / "celery" / "control"),
        "store_processed": False,
    }
    CELERY_RESULT_BACKEND = None

CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300, minimum=1)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 240, minimum=1)
# Long jobs (rewrap, expiry scan, token flush) are idempotent, so they are acknowledged only once done: a
# worker killed mid-job leaves the message unacknowledged and another worker runs it again. With
# Redis that happens once the visibility timeout has passed; it must exceed the longest task (the
# hard time limit), or a task still running would be handed to a second worker.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_VISIBILITY_TIMEOUT_SECONDS = env_int(
    "CELERY_VISIBILITY_TIMEOUT_SECONDS", max(300, CELERY_TASK_TIME_LIMIT + 60), minimum=2
)
if CELERY_VISIBILITY_TIMEOUT_SECONDS <= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        "CELERY_VISIBILITY_TIMEOUT_SECONDS must be longer than CELERY_TASK_TIME_LIMIT, "
        "or a running task would be delivered to a second worker."
    )
if REDIS_URL:
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": CELERY_VISIBILITY_TIMEOUT_SECONDS,
        # kombu looks for expired unacknowledged messages every interval x throttle seconds (100 s by
        # default); every few seconds instead, so redelivery comes at most about a tenth later than the timeout.
        "unacked_restore_interval": max(1, min(10, CELERY_VISIBILITY_TIMEOUT_SECONDS // 10)),
        "unacked_restore_throttle": 1,
    }
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_RESULT_EXPIRES = 3600
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"

# --- I18N, static -------------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = DEBUG

# --- Logging --------------------------------------------------------------------------------------
# scripts/web.sh passes the same variable to uvicorn; see the "uvicorn.access" logger below.
WEB_ACCESS_LOG = env_bool("WEB_ACCESS_LOG", default=False)
LOG_LEVEL = env_choice("LOG_LEVEL", "info", {"debug", "info", "warning", "error"}).upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    # On the handler, so records from every logger pass it: no credential in a log line at any level
    # (SQL at DEBUG loses its string values; tokens, keys and password hashes are masked everywhere).
    "filters": {"credentials": {"()": "apps.audit.log_redaction.CredentialRedactionFilter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["credentials"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's own console handler would print every line a second time.
        "django": {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False},
        "axes": {"level": "WARNING"},
        # The MCP SDK logs every stateless request at INFO ("Terminating session: None").
        "mcp": {"level": "WARNING"},
        # uvicorn's access log through our handler, so its filter sees request paths (reset links),
        # only when asked for: uvicorn logs a line per request whenever this logger has a handler,
        # whatever `--no-access-log` said before Django configured logging.
        "uvicorn.access": {
            "handlers": ["console"] if WEB_ACCESS_LOG else [],
            "level": "INFO" if WEB_ACCESS_LOG else "WARNING",
            "propagate": False,
        },
    },
}
