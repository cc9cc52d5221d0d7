from django.contrib import admin

from apps.todos.models import Tag, Todo


@admin.register(Todo)
class TodoAdmin(admin.ModelAdmin):
    list_display = ["title", "owner", "priority", "due_at", "completed_at", "created_at"]
    list_filter = ["priority", ("completed_at", admin.EmptyFieldListFilter)]
    search_fields = ["title", "owner__username"]
    raw_id_fields = ["owner"]
    filter_horizontal = ["tags"]
    date_hierarchy = "created_at"
    list_select_related = ["owner"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "owner"]
    search_fields = ["name", "owner__username"]
    raw_id_fields = ["owner"]
