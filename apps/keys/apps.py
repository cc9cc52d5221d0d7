from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_schedules(sender: AppConfig, **kwargs: Any) -> None:
    from apps.core.schedules import periodic_task_ensure

    periodic_task_ensure(
        name="Expire provider keys and warn owners",
        task="keys.expire_and_warn",
        crontab={"minute": "7"},
    )


class KeysConfig(AppConfig):
    """The vault for users' provider API keys (envelope encryption, rotation, expiry)."""

    name = "apps.keys"
    label = "keys"
    verbose_name = "Provider key vault"

    def ready(self) -> None:
        post_migrate.connect(_ensure_schedules, sender=self, dispatch_uid="keys.schedules")
        from apps.keys.services import candidates  # noqa: F401  (its signal receivers)
