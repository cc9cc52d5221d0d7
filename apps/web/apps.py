from django.apps import AppConfig


class WebConfig(AppConfig):
    """Server-rendered pages for people: sign-in, guided setup, keys, tokens, and the operators' dashboard."""

    name = "apps.web"
    label = "web"
    verbose_name = "Web pages"
    default_auto_field = "django.db.models.BigAutoField"
