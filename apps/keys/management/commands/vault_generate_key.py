"""`manage.py vault_generate_key` is answered by manage.py before the settings load (a production
container has no keyring yet); this class serves call_command and `manage.py help`, with the same rules."""

from django.core.management.base import BaseCommand, CommandError

from apps.keys import crypto
from config import secret_generators


class Command(BaseCommand):
    help = "Print a new random master key entry (version:base64) for VAULT_MASTER_KEYS."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--key-version", help="Version label, e.g. v3 (default: one above the current version).")

    def handle(self, *args, **options) -> None:
        versions = [name for name, _ in crypto.keyring()]
        version = options["key_version"] or secret_generators.next_master_key_version(versions)
        if not secret_generators.MASTER_KEY_VERSION.fullmatch(version):
            raise CommandError("The version may only hold letters, digits, '-' and '_' (at most 16).")
        if version in versions:
            raise CommandError(f"Version {version} is already in VAULT_MASTER_KEYS; pick another.")
        self.stdout.write(secret_generators.master_key_entry(version))
        self.stderr.write(secret_generators.MASTER_KEY_NEXT_STEPS)
