"""Create an operator account in any environment (bootstrap_demo is for development only).

The password comes from a prompt or a file, never from an argument: arguments end up in shell
history, `ps` output and container inspection.
"""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

from django.core.management.base import CommandError

from apps.accounts.roles import ROLE_OPERATOR
from apps.accounts.services import user_create
from apps.audit.jobs import AuditedCommand
from apps.core.errors import DomainError


class Command(AuditedCommand):
    help = "Create an operator account (admin access). The password is prompted for, or read with --password-file."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # Otherwise argparse reads "--password <secret>" as an abbreviation of --password-file.
        parser.allow_abbrev = False
        return parser

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", required=True)
        parser.add_argument("--email", required=True)
        parser.add_argument(
            "--password-file",
            help="Read the password from this file's first line ('-' reads standard input) instead of prompting.",
        )

    def handle(self, *args, **options) -> None:
        password = self._password(options["password_file"])
        try:
            user = user_create(
                username=options["username"], email=options["email"], password=password, role=ROLE_OPERATOR
            )
        except DomainError as exc:
            raise CommandError(_describe(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(f"Created operator {user.get_username()}; sign in at /admin/ or POST /api/auth/token.")
        )

    def _password(self, source: str | None) -> str:
        if source == "-":
            lines = sys.stdin.read().splitlines()
        elif source:
            try:
                lines = Path(source).read_text().splitlines()
            except OSError as exc:
                raise CommandError(f"Cannot read --password-file: {exc.strerror}.") from None
        elif sys.stdin.isatty():
            first = getpass.getpass("Password: ")
            if getpass.getpass("Password (again): ") != first:
                raise CommandError("The passwords do not match.")
            lines = [first]
        else:
            raise CommandError("No terminal to prompt for the password: pass --password-file PATH (or - for stdin).")
        password = lines[0] if lines else ""
        if not password:
            raise CommandError("The password is empty.")
        return password


def _describe(exc: DomainError) -> str:
    problems = [
        f"{field}: {' '.join(messages) if isinstance(messages, list) else messages}"
        for field, messages in (exc.details or {}).items()
    ]
    return " ".join([exc.message, *problems])
