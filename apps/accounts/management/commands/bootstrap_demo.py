"""Create the demo operator account on a development machine and say how to log in."""

import secrets

from django.conf import settings
from django.core.management.base import CommandError

from apps.accounts.models import User
from apps.accounts.roles import ROLE_OPERATOR
from apps.accounts.services import user_create
from apps.audit.jobs import AuditedCommand
from config.env import read_or_create_secret


class Command(AuditedCommand):
    help = "Create (once) a demo operator account for local development and print its login."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="operator")

    def handle(self, *args, **options):
        if not settings.DEVELOPMENT:
            raise CommandError("bootstrap_demo only runs with APP_ENV=development.")
        username = options["username"]
        # Kept in var/ (git-ignored) so every start can print the same login.
        password = read_or_create_secret(
            settings.VAR_DIR / f"demo-{username}-password", lambda: secrets.token_urlsafe(12)
        )
        user = User.objects.filter(username=username).first()
        if user is None:
            user_create(username=username, password=password, email=f"{username}@example.test", role=ROLE_OPERATOR)
            created = "Created"
        else:
            created = "Using existing"
        self.stdout.write(
            self.style.SUCCESS(
                f"{created} demo operator account.\n"
                f"  admin:    {settings.PUBLIC_BASE_URL}/admin/   username={username}  password={password}\n"
                f"  JWT:      curl -s -X POST {settings.PUBLIC_BASE_URL}/api/auth/token "
                f'-H \'Content-Type: application/json\' -d \'{{"username":"{username}","password":"{password}"}}\''
            )
        )
