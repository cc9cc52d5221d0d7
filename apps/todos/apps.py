from django.apps import AppConfig


class TodosConfig(AppConfig):
    """The todo domain the chatbot and MCP tools work on."""

    name = "apps.todos"
    label = "todos"
    verbose_name = "Todos"

    def ready(self) -> None:
        from apps.todos import signals  # noqa: F401 - sends todos_changed on every change
