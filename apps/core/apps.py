import contextlib
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


def settings_folders_ensure() -> None:
    """The folders settings point at, made at start-up rather than while settings are read."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3" and str(database["NAME"]) != ":memory:":
        Path(database["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # WhiteNoise warns on every start when the folder is missing before the first collectstatic.
    with contextlib.suppress(OSError):
        Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)


class CoreConfig(AppConfig):
    """Cross-cutting pieces every app uses: the error contract, health checks, pagination."""

    name = "apps.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        broker_folders_ensure()
        settings_folders_ensure()
