from django.contrib import admin

from apps.chat.models import ChatMessage, Conversation
from apps.core.admin_pages import ReadOnlyAdminMixin


class ChatMessageInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = ChatMessage
    fields = ["role", "content", "tool_calls", "provider", "model", "created_at"]
    readonly_fields = fields
    extra = 0


@admin.register(Conversation)
class ConversationAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Users' conversations, read-only (stored masked)."""

    list_display = ["id", "user", "title", "updated_at"]
    search_fields = ["user__username"]
    list_select_related = ["user"]
    fields = ["user", "title", "created_at", "updated_at"]
    readonly_fields = fields
    inlines = [ChatMessageInline]
