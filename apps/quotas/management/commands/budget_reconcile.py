from apps.audit.jobs import AuditedCommand
from apps.quotas.reconcile import budget_spend_reconcile


class Command(AuditedCommand):
    help = (
        "Compare every budget spend row of this and the previous day and month with the usage ledger; "
        "audit each difference and set the row to the ledger's figure (the hourly beat job does the same)."
    )

    def handle(self, *args, **options) -> None:
        differences = budget_spend_reconcile()
        for difference in differences:
            row = difference.as_dict()
            self.stdout.write(
                f"user {row['user_id']} {row['provider']} {row['period']} from {row['period_start']}: counted "
                f"{row['counted_tokens']} tokens / {row['counted_cost']} USD, ledger {row['ledger_tokens']} tokens / "
                f"{row['ledger_cost']} USD; corrected"
            )
        self.stdout.write(f"{len(differences)} difference(s) found and corrected")
