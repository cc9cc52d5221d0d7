from apps.audit.jobs import AuditedCommand
from apps.audit.retention import audit_retention_run


class Command(AuditedCommand):
    help = "Delete audit events past their category's retention period (AUDIT_RETENTION_DAYS_*)."

    def handle(self, *args, **options) -> None:
        self.stdout.write(f"deleted {audit_retention_run()} expired audit events")
