from apps.audit.jobs import AuditedCommand
from apps.audit.verify import audit_checkpoint_write


class Command(AuditedCommand):
    help = "Seal what is committed and write a signed checkpoint of the chain head (file, log, table)."

    def handle(self, *args, **options) -> None:
        checkpoint = audit_checkpoint_write()
        self.stdout.write(f"checkpoint at seq {checkpoint.seq}")
