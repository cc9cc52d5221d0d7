from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    """What the gateway knows about AI providers: the registry, key formats, live checks."""

    name = "apps.providers"
    label = "providers"
    verbose_name = "AI providers"

    def ready(self) -> None:
        from apps.audit.masking import secret_patterns_add
        from apps.providers.registry import secret_patterns

        # Masking (audit, a lower layer) learns every provider's key formats from the registry here.
        secret_patterns_add((pattern.fragment, pattern.regex) for pattern in secret_patterns())
