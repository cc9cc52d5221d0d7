import json

from django.contrib import admin
from django.utils.html import format_html

from apps.audit.masking import mask_text, mask_value
from apps.audit.models import AuditEvent
from apps.core.admin_pages import ReadOnlyAdminMixin
from apps.core.money import money_format


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: the trail is append-only, for operators and auditors alike.

    Text is shown through the masking again: rows written before every column was masked on the
    way in (issue 7 item 13) cannot be rewritten without breaking the hash chain.
    """

    list_display = ["created_at", "actor_label", "category", "action", "outcome", "door", "target"]
    list_filter = ["category", "outcome", "door"]
    search_fields = ["actor_label", "action", "target_id", "request_id"]
    date_hierarchy = "created_at"
    fields = [
        "created_at",
        "actor",
        "actor_label",
        "actor_type",
        "token_id",
        "subject",
        "category",
        "action",
        "outcome",
        "error_code",
        "target_type",
        "target",
        "data_masked",
        "request_id",
        "client_address",
        "user_agent",
        "door",
        "duration_ms",
        "tokens",
        "cost_usd",
        "seq",
        "prev_hash",
        "hash",
        "key_version",
    ]
    readonly_fields = fields

    @admin.display(description="cost")
    def cost_usd(self, obj: AuditEvent) -> str:
        return money_format(obj.cost) if obj.cost is not None else "—"

    @admin.display(description="target id", ordering="target_id")
    def target(self, obj: AuditEvent) -> str:
        return mask_text(obj.target_id)

    @admin.display(description="data")
    def data_masked(self, obj: AuditEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(mask_value(obj.data), indent=2, sort_keys=True, default=str))
