from django.core.management.base import CommandError

from apps.audit.chain import audit_chain_seal
from apps.audit.jobs import AuditedCommand
from apps.audit.verify import audit_chain_verify


class Command(AuditedCommand):
    help = (
        "Seal what is committed, then verify the audit chain from the last retention checkpoint against "
        "the newest signed head checkpoint of the checkpoint file, the log and the table. Exits 1 naming "
        "the first bad event and the damage (forged, edited, missing, reordered, truncated, wrong_key)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--log",
            action="append",
            dest="logs",
            metavar="PATH",
            help="a copy of the shipped log with 'audit checkpoint' lines (repeatable, default AUDIT_CHECKPOINT_LOG)",
        )

    def handle(self, *args, **options) -> None:
        audit_chain_seal()
        result = audit_chain_verify(log_paths=options["logs"])
        if not result.intact:
            where = " ".join(
                f"{name}={value}" for name, value in (("event id", result.event_id), ("seq", result.seq)) if value
            )
            raise CommandError(f"audit chain damaged: {result.damage} at {where}: {result.detail}")
        self.stdout.write(f"audit chain intact: {result.checked} events verified")
