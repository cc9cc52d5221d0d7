"""django-oauth-toolkit's request validator and scopes, with the gateway's rules added.

- Scopes are the gateway's scope catalogue; what a code (and so a token) carries is capped by the
  user's role when the code is made (and again at every call, apps.accounts.principal).
- Tokens carry a visible prefix (gw_oat_ / gw_ort_) so a door knows which kind it holds without a
  lookup, and masking can recognise them; only their SHA-256 is stored (RFC 9700 gate).
- An authorization code used a second time is refused, and the tokens of its first use revoked.
- A reused (rotated-out) refresh token revokes its whole family (the toolkit's reuse protection);
  we audit it.
- A client an operator blocked cannot sign anyone in or refresh.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from django.utils import timezone
from oauth2_provider.models import get_refresh_token_model
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.scopes import BaseScopes

from apps.accounts.models import (
    OAUTH_ACCESS_PREFIX,
    OAUTH_REFRESH_PREFIX,
    OAuthClientBlock,
    OAuthCodeRedemption,
)
from apps.accounts.oauth.events import oauth_event_record
from apps.accounts.scopes import SCOPES, scopes_for_user

TOKEN_SECRET_BYTES = 32


def access_token_generate(request: Any, refresh_token: bool = False) -> str:
    return f"{OAUTH_ACCESS_PREFIX}{secrets.token_urlsafe(TOKEN_SECRET_BYTES)}"


def refresh_token_generate(request: Any) -> str:
    return f"{OAUTH_REFRESH_PREFIX}{secrets.token_urlsafe(TOKEN_SECRET_BYTES)}"


def token_checksum(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


class GatewayScopes(BaseScopes):
    """The scope catalogue of apps.accounts.scopes; a request without `scope` asks for all of them
    (then capped by the user's role)."""

    def get_all_scopes(self) -> dict[str, str]:
        return dict(SCOPES)

    def get_available_scopes(self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any) -> list:
        return sorted(SCOPES)

    def get_default_scopes(self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any) -> list:
        return sorted(SCOPES)


def client_blocked(application: Any) -> bool:
    return OAuthClientBlock.objects.filter(application=application).exists()


class GatewayOAuth2Validator(OAuth2Validator):
    def _load_application(self, client_id: str, request: Any) -> Any:
        application = super()._load_application(client_id, request)
        if application is not None and client_blocked(application):
            request.client = None
            return None
        return application

    def save_authorization_code(self, client_id: str, code: dict, request: Any, *args: Any, **kwargs: Any) -> None:
        # The view shows and asks only for what the role allows; this holds even for a tampered form.
        allowed = scopes_for_user(request.user)
        request.scopes = [scope for scope in request.scopes if scope in allowed]
        super().save_authorization_code(client_id, code, request, *args, **kwargs)

    def validate_code(self, client_id: str, code: str, client: Any, request: Any, *args: Any, **kwargs: Any) -> bool:
        if super().validate_code(client_id, code, client, request, *args, **kwargs):
            return True
        redemption = OAuthCodeRedemption.objects.filter(code_digest=token_checksum(code), application=client).first()
        if redemption is not None:
            # Someone else holds this code too (RFC 6749 §4.1.2): what its first use got is revoked.
            get_refresh_token_model().revoke_family(redemption.token_family)
            oauth_event_record(
                "oauth.code_reused", actor=redemption.user, client=client, outcome="denied", tokens_revoked=True
            )
        return False

    def _create_refresh_token(self, request: Any, refresh_token_code: str, access_token: Any, previous: Any) -> Any:
        refresh_token = super()._create_refresh_token(request, refresh_token_code, access_token, previous)
        request.gateway_refresh_token = refresh_token
        return refresh_token

    def invalidate_authorization_code(self, client_id: str, code: str, request: Any, *args: Any, **kwargs: Any) -> None:
        super().invalidate_authorization_code(client_id, code, request, *args, **kwargs)
        refresh_token = getattr(request, "gateway_refresh_token", None)
        OAuthCodeRedemption.objects.create(
            code_digest=token_checksum(code),
            application=request.client,
            user=request.user,
            token_family=refresh_token.token_family if refresh_token is not None else None,
        )

    def validate_refresh_token(self, refresh_token: str, client: Any, request: Any, *args: Any, **kwargs: Any) -> bool:
        if client_blocked(client):
            return False
        valid = super().validate_refresh_token(refresh_token, client, request, *args, **kwargs)
        if not valid:
            reused = (
                get_refresh_token_model()
                .objects.filter(token_checksum=token_checksum(refresh_token), revoked__isnull=False)
                .select_related("application", "user")
                .first()
            )
            if reused is not None:
                oauth_event_record(
                    "oauth.refresh_reused",
                    actor=reused.user,
                    client=reused.application,
                    outcome="denied",
                    grant_revoked=True,
                )
        return valid


def expired_codes_forget(*, older_than_seconds: int = 86_400) -> int:
    """Codes redeemed long ago can no longer be replayed (they expired within a minute): forget them."""
    cutoff = timezone.now() - dt.timedelta(seconds=older_than_seconds)
    deleted, _ = OAuthCodeRedemption.objects.filter(redeemed_at__lt=cutoff).delete()
    return deleted
