from django.apps import AppConfig


class ChatConfig(AppConfig):
    """The chat door: a conversation with the user's own AI provider, whose tool calls run through the pipeline."""

    name = "apps.chat"
    label = "chat"
    verbose_name = "Chat"
