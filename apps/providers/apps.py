from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    """What the gateway knows about AI providers: the registry, key formats, live checks."""

    name = "apps.providers"
    label = "providers"
    verbose_name = "AI providers"
