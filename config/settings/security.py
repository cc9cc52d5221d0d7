"""Settings, part 2: who may call (auth, lockout, JWT, DRF) and the web security headers and limits."""

from __future__ import annotations

from datetime import timedelta

from csp import constants as csp_constants

from config.env import env_bool, env_float, env_int, env_rate, env_str
from config.settings.base import DEBUG, DEVELOPMENT, SECRET_KEY

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
LOGIN_URL = "/accounts/login/"
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
        "apps.accounts.authentication.SessionContextAuthentication",
    ],
    # Safe by default: a view that declares no read_scope/write_scope refuses personal access tokens.
    "DEFAULT_PERMISSION_CLASSES": [
        "rest_framework.permissions.IsAuthenticated",
        "apps.accounts.authentication.TokenScopePermission",
    ],
    "DEFAULT_PARSER_CLASSES": ["apps.core.parsers.SafeJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    # Every REST request counts against the caller's rate across all doors (or its address's).
    "DEFAULT_THROTTLE_CLASSES": ["apps.quotas.throttle.QuotaThrottle"],
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
    # One enum for provider names wherever a request names a provider (keys, chat).
    "ENUM_NAME_OVERRIDES": {"ProviderNameEnum": "apps.providers.registry.PROVIDER_NAMES"},
    # validatorUrl: Swagger UI would otherwise send the schema to validator.swagger.io.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
}

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
# django-oauth-toolkit's "http redirect URIs allowed": http is allowed for loopback callbacks only, by
# our own redirect URI rule (config/settings/oauth.py says why the toolkit's own gate is off).
SILENCED_SYSTEM_CHECKS += ["oauth2_provider.W008"]
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
