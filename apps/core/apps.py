from pathlib import Path

from django.apps import AppConfig


def broker_folders_ensure() -> None:
    """The filesystem transport (embedded default) needs its folders before the first message.

    Read from the current Celery app (config.celery), not imported from it: core sits below config.
    """
    from celery import current_app

    options = current_app.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)


class CoreConfig(AppConfig):
    """Cross-cutting pieces every app uses: the error contract, health checks, pagination."""

    name = "apps.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        broker_folders_ensure()
