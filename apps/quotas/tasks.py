from celery import shared_task

from apps.quotas.budgets import budget_warnings_scan
from apps.quotas.reconcile import budget_spend_reconcile


@shared_task(name="quotas.budget_warnings_scan")
def budget_warnings_scan_task() -> int:
    return budget_warnings_scan()


@shared_task(name="quotas.budget_spend_reconcile")
def budget_spend_reconcile_task() -> int:
    return len(budget_spend_reconcile())
