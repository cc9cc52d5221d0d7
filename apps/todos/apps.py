from django.apps import AppConfig


class TodosConfig(AppConfig):
    """The todo domain the chatbot and MCP tools work on."""

    name = "apps.todos"
    label = "todos"
    verbose_name = "Todos"
