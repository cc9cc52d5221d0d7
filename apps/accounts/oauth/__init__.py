"""The OAuth 2.1 authorization server remote MCP clients sign in with (django-oauth-toolkit).

What the toolkit does is left to it (authorization code + PKCE, tokens, rotation with reuse
detection, RFC 8414/9207/8707, CIMD, RFC 7591). What is ours:

- `resource.py`: the canonical MCP URL tokens are bound to, the issuer, the metadata documents.
- `validator.py`: scopes capped by the user's role, prefixed tokens, code-reuse revocation, blocked clients.
- `connections.py`: the user's connected apps, remembered consent, Disconnect, unused-client expiry.
- `tokens.py`: an OAuth access token presented at a door -> the token row, as a PAT is.
- `events.py`: how a client is named, and the OAuth audit events.

The endpoints and the CIMD fetch are doors (they use quotas and the egress guard): apps.web.oauth.
"""
