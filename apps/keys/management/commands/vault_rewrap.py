from django.core.management.base import CommandError

from apps.audit.jobs import AuditedCommand
from apps.keys import crypto, services


class Command(AuditedCommand):
    help = (
        "Re-wrap every provider key's data key under the current master key (the first in VAULT_MASTER_KEYS) "
        "and re-fingerprint keys made with an older VAULT_FINGERPRINT_PEPPER. "
        "Idempotent and resumable: stop it any time and run it again."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--batch-size", type=int, default=None, help="Rows per transaction (default setting).")

    def handle(self, *args, **options) -> None:
        current = crypto.current_master_key_version()
        pepper = crypto.current_fingerprint_pepper_id()
        self.stdout.write(f"Re-wrapping data keys under master key {current}, fingerprints under pepper {pepper} ...")

        def report(counts: dict) -> None:
            self.stdout.write(
                f"  batch {counts['batches']}: {counts['rewrapped']} re-wrapped, "
                f"{counts['refingerprinted']} re-fingerprinted, {counts['failed']} failed"
            )

        result = services.provider_keys_rewrap(batch_size=options["batch_size"], progress=report)
        self.stdout.write(
            f"Done: {result['rewrapped']} re-wrapped, {result['failed']} failed, "
            f"{result['remaining']} not on {current}."
        )
        self.stdout.write(f"Fingerprints: {result['refingerprinted']} re-made under pepper {pepper}.")
        if result["failed"] or result["remaining"]:
            raise CommandError(
                "Some keys are still wrapped by an older master key (or fingerprinted with an older pepper); keep "
                "those in VAULT_MASTER_KEYS (and VAULT_FINGERPRINT_PEPPERS_PREVIOUS) and look at the errors logged "
                "above before running this again."
            )
        self.stdout.write(
            self.style.SUCCESS(
                "Every key is on the current master key and pepper; older ones can be removed "
                "(revoked keys keep their old fingerprint: they hold no secret to re-fingerprint)."
            )
        )
