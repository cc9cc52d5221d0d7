from django.apps import AppConfig


class AuditConfig(AppConfig):
    """Append-only, hash-chained record of who did what."""

    name = "apps.audit"
    label = "audit"
    verbose_name = "Audit trail"
