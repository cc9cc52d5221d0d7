import re

from django.core.management.base import BaseCommand, CommandError

from apps.keys import crypto


class Command(BaseCommand):
    help = "Print a new random master key entry (version:base64) for VAULT_MASTER_KEYS."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--key-version", help="Version label, e.g. v3 (default: one above the current version).")

    def handle(self, *args, **options) -> None:
        version = options["key_version"] or self._next_version()
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,16}", version):
            raise CommandError("The version may only hold letters, digits, '-' and '_' (at most 16).")
        if version in {name for name, _ in crypto.keyring()}:
            raise CommandError(f"Version {version} is already in VAULT_MASTER_KEYS; pick another.")
        self.stdout.write(crypto.master_key_generate(version))
        self.stderr.write(
            "Put this entry FIRST in VAULT_MASTER_KEYS (keep the old ones after it), restart, then run "
            "`manage.py vault_rewrap`. Store it like any other production secret."
        )

    def _next_version(self) -> str:
        numbers = [int(name[1:]) for name, _ in crypto.keyring() if re.fullmatch(r"v\d+", name)]
        return f"v{max(numbers, default=0) + 1}"
