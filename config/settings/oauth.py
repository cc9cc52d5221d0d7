"""The OAuth 2.1 authorization server for remote MCP clients (django-oauth-toolkit; apps.accounts.oauth).

Every URL it publishes derives from PUBLIC_BASE_URL: the issuer is PUBLIC_BASE_URL, tokens are bound
to MCP_RESOURCE_URL (RFC 8707). See docs/oauth.md.
"""

from config.env import env_int, env_list, env_rate, env_str
from config.settings.base import PUBLIC_BASE_URL
from config.settings.gateway import MCP_RESOURCE_URL

OAUTH_ACCESS_TOKEN_SECONDS = env_int("OAUTH_ACCESS_TOKEN_SECONDS", 3600, minimum=60, maximum=86_400)
# A refresh token lives this long after its access token expired, unless used (and rotated) first.
OAUTH_REFRESH_TOKEN_SECONDS = env_int("OAUTH_REFRESH_TOKEN_SECONDS", 30 * 86_400, minimum=3600)
# Dynamic registrations never used to sign anyone in are deleted after this many hours (beat job).
OAUTH_UNUSED_CLIENT_HOURS = env_int("OAUTH_UNUSED_CLIENT_HOURS", 24, minimum=1)
# Registrations per client address (RFC 7591 is open: anyone may register, so it is rate limited).
OAUTH_REGISTRATION_RATE = env_rate("OAUTH_REGISTRATION_RATE", "10/hour")
# Client ID Metadata Documents: fetched through the provider egress guard, bounded in size and time.
OAUTH_CIMD_MAX_BYTES = env_int("OAUTH_CIMD_MAX_BYTES", 5 * 1024, minimum=512, maximum=65_536)
OAUTH_CIMD_TIMEOUT_SECONDS = env_int("OAUTH_CIMD_TIMEOUT_SECONDS", 5, minimum=1, maximum=30)
# A CA bundle trusted for Client ID Metadata Document fetches besides the system's (a corporate CA).
OAUTH_CIMD_CA_FILE = env_str("OAUTH_CIMD_CA_FILE", "")
# Redirect URIs a client may register: https anywhere, http on loopback only (RFC 8252 §7.3, any port),
# and these private-use schemes of native apps (RFC 8252 §7.1).
OAUTH_NATIVE_REDIRECT_SCHEMES = env_list("OAUTH_NATIVE_REDIRECT_SCHEMES", ["cursor", "vscode", "vscode-insiders"])
# Last-used times of a connection are written at most this often.
OAUTH_LAST_USED_RESOLUTION_SECONDS = env_int("OAUTH_LAST_USED_RESOLUTION_SECONDS", 60, minimum=0)

OAUTH2_PROVIDER = {
    "SCOPES_BACKEND_CLASS": "apps.accounts.oauth.validator.GatewayScopes",
    "OAUTH2_VALIDATOR_CLASS": "apps.accounts.oauth.validator.GatewayOAuth2Validator",
    "ACCESS_TOKEN_GENERATOR": "apps.accounts.oauth.validator.access_token_generate",
    "REFRESH_TOKEN_GENERATOR": "apps.accounts.oauth.validator.refresh_token_generate",
    "ACCESS_TOKEN_EXPIRE_SECONDS": OAUTH_ACCESS_TOKEN_SECONDS,
    "REFRESH_TOKEN_EXPIRE_SECONDS": OAUTH_REFRESH_TOKEN_SECONDS,
    "AUTHORIZATION_CODE_EXPIRE_SECONDS": 60,
    "ROTATE_REFRESH_TOKEN": True,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    "REFRESH_TOKEN_GRACE_PERIOD_SECONDS": 0,
    "PKCE_REQUIRED": True,
    # Every RFC 9700 gate on: no implicit or password grant, no plain PKCE, `iss` in the response,
    # tokens stored only as their SHA-256 checksum.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    # Off on purpose: RFC 9700's check refuses 'http' in ALLOWED_REDIRECT_URI_SCHEMES outright, which would
    # also refuse the loopback callbacks native clients need (RFC 8252 §7.3; Claude Desktop, VS Code,
    # Cursor). Our own rule (apps.web.oauth.clients.redirect_uri_refusal, at registration and for CIMD
    # documents) allows http on loopback addresses only; its warning is silenced in security.py.
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": False,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    # The issuer of every metadata URL and of `iss`; never derived from a request's Host header.
    "OIDC_ISS_ENDPOINT": PUBLIC_BASE_URL,
    "OAUTH2_RESPONSE_TYPES_SUPPORTED": ["code"],
    "OAUTH2_GRANT_TYPES_SUPPORTED": ["authorization_code", "refresh_token"],
    "OAUTH2_TOKEN_ENDPOINT_AUTH_METHODS_SUPPORTED": ["none", "client_secret_post", "client_secret_basic"],
    "OAUTH2_PROTECTED_RESOURCE_IDENTIFIER": MCP_RESOURCE_URL,
    "OAUTH2_PROTECTED_RESOURCE_AUTHORIZATION_SERVERS": [PUBLIC_BASE_URL],
    "REQUEST_APPROVAL_PROMPT": "force",
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https", "http", *OAUTH_NATIVE_REDIRECT_SCHEMES],
    # RFC 8252 §8.3: native clients register http://localhost too; any port, the host must still match.
    "ALLOW_LOCALHOST_LOOPBACK": True,
    "DCR_ENABLED": True,
    # Open registration (RFC 7591, what MCP clients expect), rate limited per address by our view.
    "DCR_REGISTRATION_PERMISSION_CLASSES": ("oauth2_provider.dcr.AllowAllDCRPermission",),
    "APPLICATION_ADMIN_CLASS": "apps.accounts.oauth.admin.OAuthClientAdmin",
    "CIMD_ENABLED": True,
    "CIMD_METADATA_FETCHER": "apps.web.oauth.clients.GuardedMetadataFetcher",
    "CIMD_FETCH_TIMEOUT_SECONDS": OAUTH_CIMD_TIMEOUT_SECONDS,
    "CIMD_MAX_DOCUMENT_SIZE": OAUTH_CIMD_MAX_BYTES,
    "CIMD_METADATA_MAX_AGE_SECONDS": 86_400,
}
# The toolkit's own client model (named so a migration pointing at it resolves the swappable setting).
OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth2_provider.Application"
