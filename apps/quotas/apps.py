from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _ensure_schedules(sender: AppConfig, **kwargs: Any) -> None:
    from apps.core.schedules import periodic_task_ensure

    periodic_task_ensure(
        name="Warn accounts approaching their budgets",
        task="quotas.budget_warnings_scan",
        crontab={"minute": "*/15"},
    )
    periodic_task_ensure(
        name="Record rate-limit refusals",
        task="quotas.rate_limit_refusals_flush",
        every_seconds=60,
    )
    periodic_task_ensure(
        name="Reconcile budget spend with the usage ledger",
        task="quotas.budget_spend_reconcile",
        crontab={"minute": "7"},
    )


def _load_prices(sender: AppConfig, **kwargs: Any) -> None:
    from apps.quotas.prices import model_prices_load

    model_prices_load()


class QuotasConfig(AppConfig):
    """Rate limits on every door, the usage ledger with prices, budgets and their warnings."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "apps.quotas"
    verbose_name = "Quotas"

    def ready(self) -> None:
        from apps.core.limiter import refusal_writer_register
        from apps.quotas.refusals import rate_limit_refusals_record

        refusal_writer_register(rate_limit_refusals_record)
        post_migrate.connect(_ensure_schedules, sender=self, dispatch_uid="quotas.schedules")
        post_migrate.connect(_load_prices, sender=self, dispatch_uid="quotas.prices")
