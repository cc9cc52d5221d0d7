from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse

from apps.audit.services import audit_event_record
from apps.core.admin_pages import ReadOnlyAdminMixin
from apps.providers.answer_cache import answer_cache_stats, answer_invalidate_all, answer_invalidate_user
from apps.providers.breaker import circuit_reset, circuit_snapshot
from apps.providers.models import AIPreference, ProviderCircuit


@admin.register(ProviderCircuit)
class ProviderCircuitAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The circuit breakers, one per provider and base URL, with their live state from Redis."""

    list_display = ["provider", "base_url", "state", "failures", "opened_at"]
    list_filter = ["provider"]
    fields = ["name", "provider", "base_url", "created_at"]
    readonly_fields = fields
    actions = ["reset_breakers", "clear_answer_cache"]

    @admin.display(description="state")
    def state(self, obj: ProviderCircuit) -> str:
        return circuit_snapshot(obj).state

    @admin.display(description="failures counted")
    def failures(self, obj: ProviderCircuit) -> int:
        return circuit_snapshot(obj).failures

    @admin.display(description="opened at")
    def opened_at(self, obj: ProviderCircuit) -> Any:
        return circuit_snapshot(obj).opened_at

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        stats = answer_cache_stats()
        if request.method == "GET" and stats:
            self.message_user(
                request,
                f"AI answer cache: {stats.get('l1_hit', 0)} L1 hits, {stats.get('l2_hit', 0)} L2 hits, "
                f"{stats.get('miss', 0)} misses.",
                messages.INFO,
            )
        return super().changelist_view(request, extra_context)

    def has_reset_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("providers.reset_providercircuit")

    @admin.action(description="Reset (close) selected breakers", permissions=["reset"])
    def reset_breakers(self, request: HttpRequest, queryset: QuerySet[ProviderCircuit]) -> None:
        for circuit in queryset:
            circuit_reset(circuit=circuit, actor=request.user)
        self.message_user(request, f"Closed {queryset.count()} breaker(s).", messages.SUCCESS)

    @admin.action(description="Clear every cached AI answer (all users)", permissions=["reset"])
    def clear_answer_cache(self, request: HttpRequest, queryset: QuerySet[ProviderCircuit]) -> None:
        answer_invalidate_all()
        audit_event_record(action="ai_cache.cleared", actor=request.user, target_type="ai_cache", target_id="all")
        self.message_user(request, "Every cached AI answer is gone, in every process.", messages.SUCCESS)


@admin.register(AIPreference)
class AIPreferenceAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Users' provider order and models (they change them through the API); cached answers per user."""

    list_display = ["user", "provider_order", "model_by_provider", "updated_at"]
    search_fields = ["user__username"]
    fields = ["user", "provider_order", "model_by_provider", "updated_at"]
    readonly_fields = fields
    actions = ["clear_user_answers"]

    def has_clear_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("providers.reset_providercircuit")

    @admin.action(description="Clear the cached AI answers of these users", permissions=["clear"])
    def clear_user_answers(self, request: HttpRequest, queryset: QuerySet[AIPreference]) -> None:
        for row in queryset:
            answer_invalidate_user(user_id=row.user_id)
            audit_event_record(action="ai_cache.cleared", actor=request.user, target_type="user", target_id=row.user_id)
        self.message_user(request, f"Cleared the cached answers of {queryset.count()} user(s).", messages.SUCCESS)
