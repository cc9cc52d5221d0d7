from celery import shared_task

from apps.core.limiter import refusals_flush
from apps.quotas.budgets import budget_warnings_scan
from apps.quotas.reconcile import budget_spend_reconcile


@shared_task(name="quotas.budget_warnings_scan")
def budget_warnings_scan_task() -> int:
    return budget_warnings_scan()


@shared_task(name="quotas.budget_spend_reconcile")
def budget_spend_reconcile_task() -> int:
    return len(budget_spend_reconcile())


@shared_task(name="quotas.rate_limit_refusals_flush")
def rate_limit_refusals_flush_task() -> int:
    """The closed minutes' refusal counts as audit events (the last minute of a burst has no next
    refusal to flush it)."""
    return refusals_flush()
