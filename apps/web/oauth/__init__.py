"""The OAuth authorization server's doors (/authorize with its sign-in and consent pages, /token,
/revoke, /register) and the Client ID Metadata Document fetch. They sit here, with the other doors,
because they use the rate limits (quotas) and the outbound guard (providers); the rules of tokens,
consent and clients live below, in apps.accounts.oauth."""
