"""Settings for the Todo MCP Gateway: every knob comes from the environment.

APP_ENV=production (the default) has no secret defaults: SECRET_KEY and ALLOWED_HOSTS must be
given. APP_ENV=development (what `make run` uses) fills them with safe local values and keeps
generated secrets in var/, which git ignores. DATABASE_URL and REDIS_URL switch from the
embedded defaults (SQLite file, in-process cache, filesystem task queue) to PostgreSQL and Redis.
"""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from pathlib import Path

from csp import constants as csp_constants
from django.core.exceptions import ImproperlyConfigured

from config.env import (
    database_from_url,
    env_bool,
    env_choice,
    env_float,
    env_http_url,
    env_id_secret_pairs,
    env_int,
    env_list,
    env_rate,
    env_secret,
    env_str,
    is_set,
    mcp_hosts_from_allowed_hosts,
    mcp_origin,
    new_master_key,
    redis_url,
    vault_keyring,
)

BASE_DIR = Path(__file__).resolve().parent.parent
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
    "apps.core",
    "apps.accounts",
    "apps.todos",
    "apps.audit",
    "apps.mcp_tools",
    "apps.providers",
    "apps.keys",
]

MIDDLEWARE = [
    # First, so it runs last: the request's database connection goes back to the pool before the
    # response is sent, not after a slow client has read it.
    "apps.core.database.ConnectionReleaseMiddleware",
    # Then, before anything validates Host or redirects to HTTPS: container and load-balancer probes
    # call http://127.0.0.1:8000 whatever the public host
    # name is, so /healthz and /readyz answer here.
    "apps.core.health.health_probe_middleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
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

# --- Auth ---------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "/admin/login/"
# Self sign-up: open on a development laptop, closed in production until an operator opens it.
REGISTRATION_OPEN = env_bool("REGISTRATION_OPEN", default=DEVELOPMENT)
REGISTRATION_RATE_PER_ADDRESS = env_rate("REGISTRATION_RATE_PER_ADDRESS", "5/hour")
REGISTRATION_RATE_GLOBAL = env_rate("REGISTRATION_RATE_GLOBAL", "100/hour")

# How many proxies of ours stand in front of the app, each appending to X-Forwarded-For. 0: the
# socket's peer is the client and the header is ignored (see apps.core.client_address).
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0, maximum=10)

# django-axes, on the token endpoint and the admin login alike: lock a username+address pair after
# AXES_FAILURE_LIMIT failures, and a username after AXES_USERNAME_FAILURE_LIMIT failures from any
# addresses (credential stuffing spreads its guesses over many), both for AXES_COOLOFF_MINUTES.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, minimum=1)
AXES_USERNAME_FAILURE_LIMIT = env_int("AXES_USERNAME_FAILURE_LIMIT", 20, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"], "username"]
AXES_HANDLER = "apps.accounts.lockout.GatewayAxesHandler"
AXES_CLIENT_IP_CALLABLE = "apps.core.client_address.client_address"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "apps.accounts.lockout.lockout_response"
AXES_VERBOSE = False

# Bearer tokens that fail (REST and /mcp), per client address: past this many, failures answer 429.
# Failures are audited once per address per window, not once each.
BEARER_FAILURE_LIMIT = env_rate("BEARER_FAILURE_LIMIT", "20 per 5 minutes")
BEARER_FAILURE_AUDIT_WINDOW_SECONDS = env_int("BEARER_FAILURE_AUDIT_WINDOW_SECONDS", 300, minimum=10, maximum=86_400)
# Wrong current passwords on POST /api/auth/password, per user (a stolen access token must not
# become a password oracle).
PASSWORD_CHANGE_FAILURE_LIMIT = env_rate("PASSWORD_CHANGE_FAILURE_LIMIT", "5 per 15 minutes")

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env_int("JWT_ACCESS_MINUTES", 5, minimum=1, maximum=60)),
    "REFRESH_TOKEN_LIFETIME": timedelta(hours=env_int("JWT_REFRESH_HOURS", 24, minimum=1)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": env_str("JWT_SIGNING_KEY", SECRET_KEY),
    "AUTH_HEADER_TYPES": ("Bearer",),
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Before JWT: it claims only bearer tokens with our gw_pat_ prefix and leaves JWTs alone.
        "apps.accounts.authentication.PersonalAccessTokenAuthentication",
        "apps.accounts.authentication.AccessTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    # Safe by default: a view that declares no read_scope/write_scope refuses personal access tokens.
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "apps.accounts.authentication.TokenScopePermission",
    ],
    "DEFAULT_PARSER_CLASSES": ["apps.core.parsers.SafeJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "apps.core.pagination.PageNumberPagination",
    "DEFAULT_SCHEMA_CLASS": "apps.core.schema.GatewayAutoSchema",
    "EXCEPTION_HANDLER": "apps.core.http_errors.api_exception_handler",
    "PAGE_SIZE": 20,
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
if DEBUG:
    REST_FRAMEWORK["DEFAULT_RENDERER_CLASSES"].append("rest_framework.renderers.BrowsableAPIRenderer")

SPECTACULAR_SETTINGS = {
    "TITLE": "Todo MCP Gateway API",
    "DESCRIPTION": "Todos, provider key vault and MCP tools for the todo chatbot.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # The docs page loads Swagger UI from this service (drf-spectacular-sidecar), never from a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # validatorUrl: Swagger UI would otherwise send the schema to validator.swagger.io.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
}

# --- MCP pipeline ------------------------------------------------------------------------------
# Personal access tokens are stored as HMAC-SHA256(pepper, secret). PAT_PEPPER_ID names the current
# pepper; PAT_PEPPERS_PREVIOUS ("id:pepper,id:pepper") keeps old ones verifiable until every token
# has been re-digested on use.
PAT_PEPPER = env_secret("PAT_PEPPER", development=DEVELOPMENT, dev_file=VAR_DIR / "dev-pat-pepper", min_length=32)
PAT_PEPPER_ID = env_str("PAT_PEPPER_ID", "1")
PAT_PEPPERS_PREVIOUS = env_id_secret_pairs(
    "PAT_PEPPERS_PREVIOUS",
    current_id=PAT_PEPPER_ID,
    id_pattern=r".+",
    message="PAT_PEPPERS_PREVIOUS must be 'id:pepper' pairs (pepper at least 32 characters, id not the current one).",
    distinct=False,
)
PAT_MAX_PER_USER = env_int("PAT_MAX_PER_USER", 50, minimum=1)
PAT_LAST_USED_RESOLUTION_SECONDS = env_int("PAT_LAST_USED_RESOLUTION_SECONDS", 60, minimum=0)

MCP_MAX_ARGUMENT_BYTES = env_int("MCP_MAX_ARGUMENT_BYTES", 65_536, minimum=256)
# Per user per tool, moving window, in the `limits` notation ("60/minute", "1000 per hour").
MCP_RATE_LIMIT_DEFAULT = env_rate("MCP_RATE_LIMIT_DEFAULT", "120/minute")
# Shared counters across processes when Redis is there; per-process memory otherwise.
MCP_RATE_LIMIT_STORAGE_URL = env_str("MCP_RATE_LIMIT_STORAGE_URL", REDIS_URL or "memory://")
# Result and policy caching need a cache every process shares (Redis): with the in-process cache, a
# write or a policy change in one process (say the stdio server) would not invalidate another's entries.
MCP_RESULT_CACHE = env_bool("MCP_RESULT_CACHE", default=bool(REDIS_URL))
MCP_CACHE_TTL_DEFAULT = env_int("MCP_CACHE_TTL_DEFAULT", 30, minimum=1)
# Seconds policies stay in the shared cache; every save deletes the entry, so changes apply at once.
MCP_POLICY_CACHE_SECONDS = env_int("MCP_POLICY_CACHE_SECONDS", 60 if REDIS_URL else 0, minimum=0)
# Dotted path to callable(*, principal, tool_name) raising a DomainError to refuse a call: the quotas seam.
MCP_QUOTA_HOOK = env_str("MCP_QUOTA_HOOK", "")

# --- Key vault ------------------------------------------------------------------------------------
# VAULT_MASTER_KEYS="v2:<base64 32 bytes>,v1:<base64>": the first wraps new data keys, the others
# only unwrap until `manage.py vault_rewrap` has moved everything to the first. Parsed here so a
# malformed keyring stops start-up; apps.keys.crypto re-reads the setting at call time.
VAULT_MASTER_KEYS = env_secret(
    "VAULT_MASTER_KEYS",
    development=DEVELOPMENT,
    dev_file=VAR_DIR / "vault-master-keys",
    generate=new_master_key,
    hint="; create one with `manage.py vault_generate_key`",
    announce=("vault master key", "Keys stored under it are unreadable without that file"),
)
vault_keyring("VAULT_MASTER_KEYS", VAULT_MASTER_KEYS)
# The environment variable is VAULT_FINGERPRINT_PEPPER; the setting's name contains SECRET so
# Django's debug pages and error reports hide it (they hide names matching KEY/SECRET/TOKEN/...).
VAULT_FINGERPRINT_SECRET = env_secret(
    "VAULT_FINGERPRINT_PEPPER",
    development=DEVELOPMENT,
    dev_file=VAR_DIR / "vault-fingerprint-pepper",
    min_length=32,
    announce=(
        "vault fingerprint pepper",
        "Without that file, duplicate detection cannot recognise keys stored before",
    ),
)
# Every fingerprint is stored with the id of the pepper that made it, so the pepper can rotate:
# VAULT_FINGERPRINT_PEPPER_ID names the current one, VAULT_FINGERPRINT_PEPPERS_PREVIOUS ("id:pepper,...")
# keeps old ones for duplicate checks until `manage.py vault_rewrap` has re-fingerprinted every key.
VAULT_FINGERPRINT_PEPPER_ID = env_str("VAULT_FINGERPRINT_PEPPER_ID", "1")
if not re.fullmatch(r"[A-Za-z0-9_.-]{1,32}", VAULT_FINGERPRINT_PEPPER_ID):
    raise ImproperlyConfigured("VAULT_FINGERPRINT_PEPPER_ID must be 1-32 letters, digits, '.', '_' or '-'.")
VAULT_FINGERPRINT_SECRETS_PREVIOUS = env_id_secret_pairs(
    "VAULT_FINGERPRINT_PEPPERS_PREVIOUS",
    current_id=VAULT_FINGERPRINT_PEPPER_ID,
    id_pattern=r"[A-Za-z0-9_.-]{1,32}",
    message="VAULT_FINGERPRINT_PEPPERS_PREVIOUS must be 'id:pepper' pairs (pepper at least 32 characters, "
    "ids distinct and not the current VAULT_FINGERPRINT_PEPPER_ID).",
)

KEY_EXPIRY_WARNING_DAYS = env_int("KEY_EXPIRY_WARNING_DAYS", 7, minimum=1, maximum=365)
PROVIDER_KEYS_PER_USER_MAX = env_int("PROVIDER_KEYS_PER_USER_MAX", 50, minimum=1)
VAULT_REWRAP_BATCH_SIZE = env_int("VAULT_REWRAP_BATCH_SIZE", 500, minimum=1, maximum=10_000)

# --- AI providers ---------------------------------------------------------------------------------
OPENAI_BASE_URL = env_http_url("OPENAI_BASE_URL", "https://api.openai.com/v1")
ANTHROPIC_BASE_URL = env_http_url("ANTHROPIC_BASE_URL", "https://api.anthropic.com")
PROVIDER_VALIDATION_TIMEOUT_SECONDS = env_int("PROVIDER_VALIDATION_TIMEOUT_SECONDS", 10, minimum=1, maximum=60)
# User-supplied base URLs (openai_compatible keys): hosts allowed (empty = any public host), and
# whether addresses in private/loopback/link-local/reserved ranges may be reached at all.
OPENAI_COMPATIBLE_ALLOWED_HOSTS = [host.lower() for host in env_list("OPENAI_COMPATIBLE_ALLOWED_HOSTS", [])]
PROVIDER_ALLOW_PRIVATE_NETWORKS = env_bool("PROVIDER_ALLOW_PRIVATE_NETWORKS", default=False)
PROVIDER_REQUIRE_HTTPS = env_bool("PROVIDER_REQUIRE_HTTPS", default=not DEVELOPMENT)

# --- Mail -----------------------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "gateway@localhost")
# Development prints mail (key expiry warnings) to the console unless an SMTP host is given.
if DEVELOPMENT and not is_set("EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
else:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
    EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1, maximum=65535)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=False)
    EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)

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

# --- Security -----------------------------------------------------------------------------------
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = not DEBUG and env_bool("SECURE_COOKIES", default=True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", False)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_TLS_PROXY else None
# Behind a TLS proxy the service is HTTPS-only: plain http is redirected, and browsers are told (HSTS)
# never to try http again. Health probes are answered before the redirect (see MIDDLEWARE).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=BEHIND_TLS_PROXY)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31_536_000 if BEHIND_TLS_PROXY else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
# Preloading commits the whole registrable domain to HTTPS in browsers for months; an operator opts in.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
# django-csp: same-origin scripts, styles, fetches and frames only; no inline script anywhere (the API
# docs page loads its init script from a URL, SpectacularSwaggerSplitView). data: images are Swagger
# UI's icons.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [csp_constants.SELF],
        "script-src": [csp_constants.SELF],
        "style-src": [csp_constants.SELF],
        "img-src": [csp_constants.SELF, "data:"],
        "font-src": [csp_constants.SELF, "data:"],
        "connect-src": [csp_constants.SELF],
        "object-src": [csp_constants.NONE],
        "base-uri": [csp_constants.SELF],
        "form-action": [csp_constants.SELF],
        "frame-ancestors": [csp_constants.NONE],
    }
}
# One body limit for every path (Django and /mcp), enforced at the ASGI edge (apps.core.edge) from
# Content-Length and by counting streamed bytes, before authentication or parsing. Django's own limit
# is the same number, so RequestDataTooBig cannot fire first.
MAX_REQUEST_BODY_BYTES = env_int("MAX_REQUEST_BYTES", 1_048_576, minimum=1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_REQUEST_BODY_BYTES
# A body must have arrived in full this many seconds after the request started (408 otherwise).
REQUEST_BODY_TIMEOUT_SECONDS = env_float("REQUEST_BODY_TIMEOUT_SECONDS", 30, minimum=0.1, maximum=3600)
CSRF_FAILURE_VIEW = "apps.core.http_errors.csrf_failure"

# --- MCP transport -------------------------------------------------------------------------------
# Streamable HTTP at /mcp (stateless, JSON responses) and stdio; see docs/mcp-transport.md.
MCP_RESOURCE_URL = f"{PUBLIC_BASE_URL}/mcp"
# RFC 9728 metadata names who issues tokens for /mcp. There is no OAuth server here: by default it
# names this service, whose /api/auth/token issues the JWTs (personal access tokens come from
# POST /api/auth/tokens). Point it at a real authorization server if one fronts the gateway.
MCP_AUTHORIZATION_SERVERS = env_list("MCP_AUTHORIZATION_SERVERS", [PUBLIC_BASE_URL])
MCP_JSON_RESPONSE = env_bool("MCP_JSON_RESPONSE", default=True)
if is_set("MCP_MAX_REQUEST_BYTES"):
    raise ImproperlyConfigured("MCP_MAX_REQUEST_BYTES is gone: MAX_REQUEST_BYTES limits every path, /mcp included.")
# The SDK transport's own cap, kept equal to the edge's so it never answers first in another shape.
MCP_MAX_REQUEST_BYTES = MAX_REQUEST_BODY_BYTES


if is_set("MCP_ALLOWED_HOSTS"):
    MCP_ALLOWED_HOSTS = env_list("MCP_ALLOWED_HOSTS", [])
else:
    MCP_ALLOWED_HOSTS = mcp_hosts_from_allowed_hosts(ALLOWED_HOSTS)
if not MCP_ALLOWED_HOSTS or "*" in MCP_ALLOWED_HOSTS:
    raise ImproperlyConfigured("MCP_ALLOWED_HOSTS must list host names (host or host:* for any port), not '*'.")
# Browsers send Origin; desktop and server-side clients usually do not, and requests without one pass.
MCP_ALLOWED_ORIGINS = [
    mcp_origin(origin)
    for origin in env_list(
        "MCP_ALLOWED_ORIGINS",
        [PUBLIC_BASE_URL, *(origin for origin in CSRF_TRUSTED_ORIGINS if "*" not in origin)]
        # Local development tools (a dev web client, the Inspector in direct mode) run on localhost ports.
        + (["http://localhost:*", "http://127.0.0.1:*"] if DEVELOPMENT else []),
    )
]

# --- Logging --------------------------------------------------------------------------------------
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
        # uvicorn's access log through our handler, so its filter sees request paths (reset links).
        "uvicorn.access": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}

# --- Performance (issue 13) ------------------------------------------------------------------------
# Seconds a verified bearer token is answered from the process's memory without a database round
# trip; also the longest a revocation takes to reach other processes (apps/accounts/principal_cache.py).
PRINCIPAL_CACHE_SECONDS = env_float("PRINCIPAL_CACHE_SECONDS", 5, minimum=0, maximum=60)
