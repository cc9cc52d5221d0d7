from __future__ import annotations

import zoneinfo

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known IANA time zone (e.g. Europe/Berlin).")


class User(AbstractUser):
    """A person using the gateway; roles are groups (see apps.accounts.roles).

    `timezone` lets tools read "tomorrow 5pm" the way the user means it.
    """

    email = models.EmailField("email address", blank=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])

    class Meta:
        ordering = ["username"]

    @property
    def roles(self) -> list[str]:
        from apps.accounts.roles import ROLES

        names = {group.name for group in self.groups.all()}
        return [role for role in ROLES if role in names]

    def has_role(self, role: str) -> bool:
        return role in self.roles

    @property
    def is_operator(self) -> bool:
        from apps.accounts.roles import ROLE_OPERATOR

        return self.is_superuser or self.has_role(ROLE_OPERATOR)


PAT_PREFIX = "gw_pat_"


class PersonalAccessToken(models.Model):
    """A long-lived bearer token a user creates for an MCP client or a script.

    The plaintext is shown once. The row keeps a short public `lookup_id` (part of the visible
    prefix, used to find the row) and an HMAC-SHA256 digest of the secret part under a server-side
    pepper; `pepper_id` says which pepper, so peppers can rotate without invalidating tokens.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="access_tokens")
    name = models.CharField(max_length=100)
    lookup_id = models.CharField(max_length=16, unique=True, editable=False)
    digest = models.CharField(max_length=64, editable=False)
    pepper_id = models.CharField(max_length=32, editable=False)
    scopes = models.JSONField(default=list)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"], name="pat_user_created")]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def prefix(self) -> str:
        return f"{PAT_PREFIX}{self.lookup_id}"

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.is_expired:
            return "expired"
        return "active"
