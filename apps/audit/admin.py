import datetime as dt
import json

from django.contrib import admin
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

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

    # Fits a 1280 px screen beside the admin's menu and filters: the action names its category
    # (still a filter), the time is compact, and long ids wrap (static/css/admin-audit.css).
    list_display = ["when", "actor_label", "action_name", "outcome", "door", "target"]
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

    class Media:
        css = {"all": ["css/admin-audit.css"]}

    @admin.display(description="time (UTC)", ordering="created_at")
    def when(self, obj: AuditEvent) -> str:
        return obj.created_at.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")

    @admin.display(description="action", ordering="action")
    def action_name(self, obj: AuditEvent) -> str:
        # Break opportunities after the dots and underscores, so a long action wraps between words.
        return mark_safe(escape(obj.action).replace(".", ".<wbr>").replace("_", "_<wbr>"))  # noqa: S308 - escaped above

    @admin.display(description="cost")
    def cost_usd(self, obj: AuditEvent) -> str:
        return money_format(obj.cost) if obj.cost is not None else "—"

    @admin.display(description="target id", ordering="target_id")
    def target(self, obj: AuditEvent) -> str:
        return mask_text(obj.target_id)

    @admin.display(description="data")
    def data_masked(self, obj: AuditEvent) -> str:
        return format_html("<pre>{}</pre>", json.dumps(mask_value(obj.data), indent=2, sort_keys=True, default=str))
