from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac

from apps.core.timezones import known_timezones

# Declared in core, below audit's masking that hides them; named here too, where the tokens live.
from apps.core.token_prefixes import OAUTH_ACCESS_PREFIX as OAUTH_ACCESS_PREFIX
from apps.core.token_prefixes import OAUTH_REFRESH_PREFIX as OAUTH_REFRESH_PREFIX
from apps.core.token_prefixes import PAT_PREFIX as PAT_PREFIX


def validate_timezone(value: str) -> None:
    if value not in known_timezones():
        raise ValidationError(f"{value!r} is not a known IANA time zone (e.g. Europe/Berlin).")


class User(AbstractUser):
    """A person using the gateway; roles are groups (see apps.accounts.roles).

    `timezone` lets tools read "tomorrow 5pm" the way the user means it.
    """

    email = models.EmailField("email address", blank=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    # Moved by "sign out everywhere" and by deactivation; with the password hash it makes the
    # credential stamp every JWT and session carries (see credential_stamp).
    credential_epoch = models.PositiveIntegerField(default=0, editable=False)

    class Meta:
        ordering = ["username"]

    @classmethod
    def from_db(cls, db, field_names, values):
        instance = super().from_db(db, field_names, values)
        # Remembered so save() can tell a deactivation from any other save.
        instance._loaded_is_active = instance.__dict__.get("is_active")
        return instance

    def save(self, *args, **kwargs) -> None:
        update_fields = kwargs.get("update_fields")
        self._was_deactivated = bool(
            self.pk and getattr(self, "_loaded_is_active", None) is True and not self.is_active
        ) and (update_fields is None or "is_active" in update_fields)
        if self._was_deactivated:
            # Tokens issued before a deactivation must not come back with a reactivation.
            self.credential_epoch += 1
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "credential_epoch"}
        super().save(*args, **kwargs)
        self._loaded_is_active = self.is_active

    def credential_stamp(self) -> str:
        """What every JWT carries (claim "cv") and every request compares with the stored user.

        Derived from the password hash, like Django's session hash, so it moves however the
        password changes (API, admin, `changepassword`, `set_password` + `save()` in a shell, even a
        queryset update), and from `credential_epoch`, which moves without a password change.
        """
        return salted_hmac(
            "apps.accounts.User.credential_stamp", f"{self.password}:{self.credential_epoch}", algorithm="sha256"
        ).hexdigest()[:32]

    def _get_session_auth_hash(self, secret: str | None = None) -> str:
        # Django's session hash covers only the password; adding the epoch lets "sign out
        # everywhere" and deactivation end admin sessions too.
        return salted_hmac(
            "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash",
            f"{self.password}:{self.credential_epoch}",
            secret=secret,
            algorithm="sha256",
        ).hexdigest()

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


class RefreshTokenFamily(models.Model):
    """Every refresh token descended from one login (claim "fam"), for rotation and theft detection.

    Only the family's newest token (`current_jti`) may be redeemed. Presenting an older one means
    two parties hold the same session, so the whole family is revoked, and with it the access
    tokens it issued (they carry the same claim, checked on every request).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="refresh_families")
    current_jti = models.CharField(max_length=64, editable=False, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_reason = models.CharField(max_length=40, blank=True, default="", editable=False)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "revoked_at"], name="refresh_family_user_live")]

    def __str__(self) -> str:
        return f"session {str(self.id)[:8]} of user {self.user_id}"


class OAuthConnection(models.Model):
    """A user's consent to one OAuth client (a "connected app"): which scopes were allowed, when, and
    when the client last called. A later request for the same scopes is approved without asking; a
    request for more asks again for the new ones only. Disconnect deletes it with every token of the
    client for this user (apps.accounts.oauth.connections)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oauth_connections")
    application = models.ForeignKey(
        "oauth2_provider.Application", on_delete=models.CASCADE, related_name="gateway_connections"
    )
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["user", "application"], name="oauth_connection_once")]

    def __str__(self) -> str:
        return f"{self.application} for user {self.user_id}"


class OAuthCodeRedemption(models.Model):
    """An authorization code already exchanged (RFC 6749 §4.1.2: a second use is refused and the
    tokens from the first use are revoked). Only the code's SHA-256 is kept, with the refresh token
    family the first use started."""

    code_digest = models.CharField(max_length=64, unique=True, editable=False)
    application = models.ForeignKey("oauth2_provider.Application", on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token_family = models.UUIDField(null=True, blank=True)
    redeemed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["redeemed_at"], name="oauth_code_redeemed")]

    def __str__(self) -> str:
        return f"code redeemed at {self.redeemed_at:%Y-%m-%d %H:%M:%S}"


class OAuthClientBlock(models.Model):
    """An operator disabled this OAuth client: it can neither sign anyone in nor use its tokens."""

    application = models.OneToOneField(
        "oauth2_provider.Application", on_delete=models.CASCADE, related_name="gateway_block"
    )
    blocked_at = models.DateTimeField(auto_now_add=True)
    blocked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"block of {self.application}"
