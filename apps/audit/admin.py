import datetime as dt
import json

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

from apps.audit.chain import keyring
from apps.audit.integrity import FORGED, INTEGRITY_STATES, event_integrity
from apps.audit.masking import mask_text, mask_value
from apps.audit.models import AuditEvent
from apps.audit.selectors import audit_events_of_integrity
from apps.core.admin_pages import ReadOnlyAdminMixin
from apps.core.money import money_format


class IntegrityFilter(admin.SimpleListFilter):
    """The API's `integrity` filter (apps.audit.selectors.audit_events_of_integrity)."""

    title = "integrity"
    parameter_name = "integrity"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list[tuple[str, str]]:
        return [(state, state) for state in INTEGRITY_STATES]

    def queryset(self, request: HttpRequest, queryset: QuerySet[AuditEvent]) -> QuerySet[AuditEvent]:
        if self.value() in INTEGRITY_STATES:
            return audit_events_of_integrity(events=queryset, integrity=self.value())
        return queryset


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Read-only: the trail is append-only, for operators and auditors alike.

    Text is shown through the masking again: rows written before every column was masked on the
    way in (issue 7 item 13) cannot be rewritten without breaking the hash chain.
    """

    # Fits a 1280 px screen beside the admin's menu and filters: the action names its category
    # (still a filter), the time is compact, and long ids wrap (static/css/admin-audit.css).
    list_display = ["when", "integrity", "actor_label", "action_name", "outcome", "door", "target"]
    list_filter = [IntegrityFilter, "category", "outcome", "door"]
    search_fields = ["actor_label", "action", "target_id", "request_id"]
    date_hierarchy = "created_at"
    fields = [
        "integrity",
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

    @admin.display(description="integrity")
    def integrity(self, obj: AuditEvent) -> str:
        # The same answer as the API's and the export's (apps.audit.integrity): a row a database user
        # wrote never reads like one the application wrote.
        state = event_integrity(obj, keyring())
        return format_html("<strong>{}</strong>", state) if state == FORGED else state

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
