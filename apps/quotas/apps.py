from django.apps import AppConfig


class QuotasConfig(AppConfig):
    """Rate limits on every door (REST, MCP, anonymous endpoints), with role defaults and per-user overrides."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.quotas"
    verbose_name = "Quotas"
