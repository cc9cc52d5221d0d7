from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from apps.core.admin_pages import ReadOnlyAdminMixin
from apps.keys import services
from apps.keys.models import ProviderKey

VISIBLE_FIELDS = (
    "owner",
    "provider",
    "label",
    "base_url",
    "mask",
    "status",
    "is_default",
    "expires_at",
    "expiry_warned_at",
    "last_used_at",
    "last_validated_at",
    "last_validation_result",
    "last_validation_detail",
    "master_key_version",
    "replaced_by",
    "created_by",
    "revoked_at",
    "created_at",
    "updated_at",
)


@admin.register(ProviderKey)
class ProviderKeyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Masked and read-only: no page shows or edits a secret or its ciphertext; the actions are the only changes.

    Keys are added by their owners (or by an operator through the API with user_id), so there is
    no add form; deleting goes through revoke, which erases the secret and is audited.
    """

    list_display = ["label", "owner", "provider", "mask", "status", "expires_at", "last_used_at"]
    list_filter = ["provider", "status", "is_default", "master_key_version", "last_validation_result"]
    search_fields = ["label", "mask", "owner__username", "owner__email"]
    list_select_related = ["owner"]
    date_hierarchy = "created_at"
    fields = VISIBLE_FIELDS
    readonly_fields = VISIBLE_FIELDS
    actions = ["revoke_keys", "rewrap_keys"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[ProviderKey]:
        return super().get_queryset(request).defer("nonce", "ciphertext", "wrapped_data_key", "data_key_nonce")

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("keys.change_providerkey")

    def has_rewrap_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("keys.rewrap_providerkey")

    @admin.action(description="Revoke selected keys (erases the secret)", permissions=["revoke"])
    def revoke_keys(self, request: HttpRequest, queryset: QuerySet[ProviderKey]) -> None:
        revoked = 0
        for key in queryset.select_related("owner"):
            if key.status in (ProviderKey.Status.ACTIVE, ProviderKey.Status.EXPIRED):
                services.provider_key_revoke(actor=request.user, key=key, reason="revoked in the admin")
                revoked += 1
        self.message_user(request, f"Revoked {revoked} key(s).", messages.SUCCESS)

    @admin.action(description="Re-wrap selected keys under the current master key", permissions=["rewrap"])
    def rewrap_keys(self, request: HttpRequest, queryset: QuerySet[ProviderKey]) -> None:
        result = services.provider_keys_rewrap(actor=request.user, key_ids=list(queryset.values_list("pk", flat=True)))
        level = messages.SUCCESS if not result["failed"] else messages.ERROR
        self.message_user(
            request,
            f"Re-wrapped {result['rewrapped']} key(s) under master key {result['master_key_version']}; "
            f"{result['failed']} failed, {result['remaining']} still on an older key.",
            level,
        )
