from django.core.management.base import CommandError

from apps.audit.chain import audit_chain_seal
from apps.audit.jobs import AuditedCommand
from apps.audit.verify import audit_chain_verify


class Command(AuditedCommand):
    help = (
        "Seal what is committed, then verify the audit chain from the last retention checkpoint against "
        "the newest signed head checkpoint. Exits 1 naming the first bad event and the damage "
        "(edited, missing, reordered, truncated, wrong_key)."
    )

    def handle(self, *args, **options) -> None:
        audit_chain_seal()
        result = audit_chain_verify()
        if not result.intact:
            where = f"event id={result.event_id} seq={result.seq}" if result.event_id else f"seq={result.seq}"
            raise CommandError(f"audit chain damaged: {result.damage} at {where}: {result.detail}")
        self.stdout.write(f"audit chain intact: {result.checked} events verified")
