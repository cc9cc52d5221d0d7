"""What a verified bearer token resolves to: its own module so that the bearer door, which makes one,
and the principal cache, which keeps one, both import it and neither imports the other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rest_framework_simplejwt.tokens import AccessToken

from apps.accounts.models import PersonalAccessToken, User


@dataclass(frozen=True)
class BearerIdentity:
    user: User
    personal_token: PersonalAccessToken | None = None
    jwt: AccessToken | None = None
    # An OAuth access token row (oauth2_provider.AccessToken, with application and user).
    oauth_token: Any = None
