from celery import shared_task

from apps.quotas.budgets import budget_warnings_scan


@shared_task(name="quotas.budget_warnings_scan")
def budget_warnings_scan_task() -> int:
    return budget_warnings_scan()
