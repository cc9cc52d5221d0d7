from django.core.management.base import BaseCommand, CommandError

from apps.keys import crypto, services


class Command(BaseCommand):
    help = (
        "Re-wrap every provider key's data key under the current master key (the first in VAULT_MASTER_KEYS). "
        "Idempotent and resumable: stop it any time and run it again."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch-size", type=int, default=None, help="Rows per transaction (default setting).")

    def handle(self, *args, **options) -> None:
        current = crypto.current_master_key_version()
        self.stdout.write(f"Re-wrapping data keys under master key {current} ...")

        def report(counts: dict) -> None:
            self.stdout.write(
                f"  batch {counts['batches']}: {counts['rewrapped']} re-wrapped, {counts['failed']} failed"
            )

        result = services.provider_keys_rewrap(batch_size=options["batch_size"], progress=report)
        self.stdout.write(
            f"Done: {result['rewrapped']} re-wrapped, {result['failed']} failed, "
            f"{result['remaining']} not on {current}."
        )
        if result["failed"] or result["remaining"]:
            raise CommandError(
                "Some keys are still wrapped by an older master key; keep it in VAULT_MASTER_KEYS and look at the "
                "errors logged above before running this again."
            )
        self.stdout.write(self.style.SUCCESS("Every key is on the current master key; older ones can be removed."))
