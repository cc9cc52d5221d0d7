"""What `make run` does before it serves, in one process: the database (database_ensure), its schema
(migrate, with the system checks) and, in development, the demo account (bootstrap_demo).

Three `manage.py` commands were three Django starts, each about 2.5 s of CPU on a 2-vCPU VM; one
start does all three. Each step is still its own command, run on its own where needed (the compose
file's one-shot job runs `migrate` alone). A failing step stops here with its own one-line error.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the database if missing, migrate it and, in development, create the demo account."
    # migrate runs the system checks itself, once the database is there.
    requires_system_checks: list[str] = []

    def handle(self, *args, **options) -> None:
        verbosity = options["verbosity"]
        call_command("database_ensure", verbosity=verbosity)
        call_command("migrate", interactive=False, skip_checks=False, verbosity=verbosity)
        if settings.DEVELOPMENT:
            call_command("bootstrap_demo", verbosity=verbosity)
