"""An OAuth access token presented at a door -> its row, judged as a personal access token is.

One round trip: the token, its client, its user, the user's roles and whether the client is blocked.
Refusals raise TokenRefused (401, counted and audited in aggregate by apps.accounts.bearer). Which
audience a door accepts is the door's question (`oauth_token_allows`): /mcp accepts only tokens
bound to the canonical MCP URL, the REST API only tokens bound to its own (none are issued).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef, Subquery
from django.utils import timezone
from oauth2_provider.models import get_access_token_model

from apps.accounts.models import OAuthClientBlock, OAuthConnection
from apps.accounts.oauth.validator import token_checksum
from apps.accounts.pats import TokenRefused
from apps.accounts.scopes import role_annotations, user_roles_from_annotations


def oauth_access_authenticate(*, raw_token: str) -> Any:
    """The live AccessToken row for a presented gw_oat_ token (with application and user), or TokenRefused.

    Codes: token_invalid (unknown, no user, inactive user, blocked client), token_expired.
    """
    if not isinstance(raw_token, str) or len(raw_token) > 200:
        raise TokenRefused("The access token is invalid.", code="token_invalid")
    token = (
        get_access_token_model()
        .objects.select_related("application", "user")
        .annotate(
            **role_annotations("user_id"),
            client_blocked=Exists(OAuthClientBlock.objects.filter(application_id=OuterRef("application_id"))),
            connection_last_used=Subquery(
                OAuthConnection.objects.filter(
                    user_id=OuterRef("user_id"), application_id=OuterRef("application_id")
                ).values("last_used_at")[:1]
            ),
        )
        .filter(token_checksum=token_checksum(raw_token))
        .first()
    )
    if token is None or token.user is None or token.application is None:
        raise TokenRefused("The access token is invalid.", code="token_invalid")
    user_roles_from_annotations(token.user, token)
    if token.is_expired():
        raise TokenRefused("The access token has expired.", code="token_expired", owner=token.user)
    if not token.user.is_active or token.client_blocked:
        raise TokenRefused("The access token is invalid.", code="token_invalid", owner=token.user)
    now = timezone.now()
    resolution = dt.timedelta(seconds=settings.OAUTH_LAST_USED_RESOLUTION_SECONDS)
    if token.connection_last_used is None or now - token.connection_last_used >= resolution:
        # Coarse on purpose, as for personal access tokens: one UPDATE per connection per interval.
        OAuthConnection.objects.filter(user_id=token.user_id, application_id=token.application_id).update(
            last_used_at=now
        )
    return token


def oauth_token_allows(token: Any, audience: str) -> bool:
    """Whether the token was issued for `audience` (RFC 8707); a token bound to nothing is refused."""
    return audience in (token.resource or [])
