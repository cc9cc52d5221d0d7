"""Settings, part 3: the MCP pipeline and transport, the key vault, AI providers and mail."""

from __future__ import annotations

import re

from django.core.exceptions import ImproperlyConfigured

from config.env import (
    env_bool,
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
    vault_keyring,
)
from config.settings.base import ALLOWED_HOSTS, CSRF_TRUSTED_ORIGINS, DEVELOPMENT, PUBLIC_BASE_URL, REDIS_URL, VAR_DIR
from config.settings.security import MAX_REQUEST_BODY_BYTES

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
# The result cache's first level, in each process (apps/mcp_tools/pipeline/cache.py): entries kept,
# 0 to turn it off, and the longest one is kept (never longer than its shared entry lives).
MCP_RESULT_L1_SIZE = env_int("MCP_RESULT_L1_SIZE", 1024, minimum=0, maximum=1_000_000)
MCP_RESULT_L1_SECONDS = env_int("MCP_RESULT_L1_SECONDS", 30, minimum=1, maximum=3600)
# Seconds policies stay in the shared cache; every save deletes the entry, so changes apply at once.
MCP_POLICY_CACHE_SECONDS = env_int("MCP_POLICY_CACHE_SECONDS", 60 if REDIS_URL else 0, minimum=0)

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
# Each provider's base URL setting is read in config/settings/providers.py.
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
