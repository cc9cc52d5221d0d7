from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.providers.registry import provider_display_name

LABEL_MAX_LENGTH = 100


class ProviderKey(models.Model):
    """A user's API key for one AI provider, held only as an AES-256-GCM envelope.

    The secret is never stored in the clear: `ciphertext` is the key encrypted under a random
    data key, `wrapped_data_key` that data key encrypted under master key `master_key_version`.
    Both are bound to (owner, provider, id), see apps.keys.crypto. What people may see is `mask`
    (prefix + last four) and `fingerprint` (HMAC under server pepper `fingerprint_pepper_id`, for
    duplicate checks).
    Rotation creates a new row and leaves this one `superseded` with its secret erased;
    revocation erases the secret too. Only services change rows.
    """

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        EXPIRED = "expired", "Expired"
        REVOKED = "revoked", "Revoked"
        SUPERSEDED = "superseded", "Superseded"

    class Validation(models.TextChoices):
        NEVER = "", "Not checked"
        VALID = "valid", "Valid"
        INVALID = "invalid", "Rejected by provider"
        UNREACHABLE = "unreachable", "Provider unreachable"
        ERROR = "error", "Check failed"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="provider_keys")
    # No `choices`: the provider registry is the list (the services check the name against it), so a
    # new provider module needs no migration here.
    provider = models.CharField(max_length=32)
    label = models.CharField(max_length=LABEL_MAX_LENGTH)
    base_url = models.URLField(max_length=300, blank=True, default="")

    mask = models.CharField(max_length=40)
    fingerprint = models.CharField(max_length=64)
    # Which VAULT_FINGERPRINT_PEPPER made `fingerprint`; empty only on rows written before peppers had ids.
    fingerprint_pepper_id = models.CharField(max_length=32, blank=True, default="", editable=False, db_index=True)
    nonce = models.BinaryField(editable=False, default=b"")
    ciphertext = models.BinaryField(editable=False, default=b"")
    wrapped_data_key = models.BinaryField(editable=False, default=b"")
    data_key_nonce = models.BinaryField(editable=False, default=b"")
    master_key_version = models.CharField(max_length=16, blank=True, default="", db_index=True)

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    is_default = models.BooleanField(default=False)
    expires_at = models.DateTimeField(null=True, blank=True)
    expiry_warned_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_validated_at = models.DateTimeField(null=True, blank=True)
    last_validation_result = models.CharField(max_length=12, choices=Validation.choices, blank=True, default="")
    last_validation_detail = models.CharField(max_length=200, blank=True, default="")
    replaced_by = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="replaces", editable=False
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["provider", "-is_default", "label", "id"]
        permissions = [("rewrap_providerkey", "Can re-wrap provider keys under the current master key")]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "provider"],
                condition=Q(is_default=True),
                name="provider_key_one_default_per_provider",
            ),
            models.UniqueConstraint(
                fields=["owner", "fingerprint"],
                condition=~Q(status="superseded"),
                name="provider_key_unique_secret_per_owner",
            ),
            models.UniqueConstraint(
                fields=["owner", "provider", "label"],
                condition=~Q(status="superseded"),
                name="provider_key_unique_label",
            ),
            models.CheckConstraint(
                # An expired default stays the default, so rotating it keeps the user's choice.
                condition=Q(is_default=False) | Q(status__in=["active", "expired"]),
                name="provider_key_default_is_active",
            ),
        ]
        indexes = [
            models.Index(fields=["owner", "provider", "status"], name="provider_key_owner_provider"),
            models.Index(fields=["status", "expires_at"], name="provider_key_status_expiry"),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.mask})"

    @property
    def provider_display_name(self) -> str:
        return provider_display_name(self.provider)

    @property
    def has_secret(self) -> bool:
        return bool(self.wrapped_data_key)

    @property
    def effective_status(self) -> str:
        """`expired` as soon as expires_at passes, before the periodic job writes it down."""
        if self.status == self.Status.ACTIVE and self.expires_at is not None and self.expires_at <= timezone.now():
            return self.Status.EXPIRED
        return self.status
