from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from apps.audit.masking import mask_text


def validate_rate_limit(value: str) -> None:
    if not value:
        return
    from limits import parse

    try:
        parse(value)
    except ValueError:
        raise ValidationError(f"{value!r} is not a rate limit; write e.g. '30/minute' or '1000 per hour'.") from None


class ToolPolicy(models.Model):
    """How one registered tool may be used; one row per tool, created automatically, edited in the admin.

    Changes take effect on the next call: saving invalidates the cached policies everywhere.
    """

    tool_name = models.CharField(max_length=100, unique=True, editable=False)
    enabled = models.BooleanField(default=True)
    allowed_roles = models.JSONField(default=list, blank=True, help_text="Roles that may call this tool.")
    required_scope = models.CharField(max_length=50)
    cacheable = models.BooleanField(
        default=False, help_text="Cache results per user and arguments. Only honoured for read-only tools."
    )
    cache_ttl_seconds = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(86_400)],
        help_text="Empty: the MCP_CACHE_TTL_DEFAULT setting.",
    )
    rate_limit = models.CharField(
        max_length=50,
        blank=True,
        default="",
        validators=[validate_rate_limit],
        help_text="Per user, e.g. '30/minute'. Empty: the MCP_RATE_LIMIT_DEFAULT setting.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["tool_name"]
        verbose_name_plural = "tool policies"

    def __str__(self) -> str:
        return self.tool_name

    def clean(self) -> None:
        from apps.accounts.roles import ROLES
        from apps.accounts.scopes import SCOPES

        errors: dict[str, list[str]] = {}
        if self.required_scope not in SCOPES:
            errors["required_scope"] = [f"Must be one of {sorted(SCOPES)}."]
        if not isinstance(self.allowed_roles, list) or any(role not in ROLES for role in self.allowed_roles):
            errors["allowed_roles"] = [f"Must be a list drawn from {list(ROLES)}."]
        if errors:
            raise ValidationError(errors)


class ToolCall(models.Model):
    """One tool invocation through the pipeline, whatever the door: the usage ledger quotas build on."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    operator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    tool_name = models.CharField(max_length=100)
    transport = models.CharField(max_length=20)
    auth_method = models.CharField(max_length=20, blank=True, default="")
    token_id = models.BigIntegerField(null=True, blank=True)
    success = models.BooleanField()
    cached = models.BooleanField(default=False)
    error_code = models.CharField(max_length=50, blank=True, default="")
    duration_ms = models.FloatField()
    invocation_id = models.CharField(max_length=32, unique=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["user", "tool_name", "-created_at"], name="toolcall_user_tool_created"),
        ]

    def __str__(self) -> str:
        # Masked: rows from before unknown names were stored as labels may hold a client's key.
        return f"{mask_text(self.tool_name)} by {self.user_id} ({'ok' if self.success else self.error_code})"
