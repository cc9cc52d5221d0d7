from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Cross-cutting pieces every app uses: the error contract, health checks, pagination."""

    name = "apps.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        from config.celery import ensure_filesystem_broker_folders

        ensure_filesystem_broker_folders()
