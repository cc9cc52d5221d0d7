from __future__ import annotations

import zoneinfo

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known IANA time zone (e.g. Europe/Berlin).")


class User(AbstractUser):
    """A person using the gateway; roles are groups (see apps.accounts.roles).

    `timezone` lets tools read "tomorrow 5pm" the way the user means it.
    """

    email = models.EmailField("email address", blank=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])

    class Meta:
        ordering = ["username"]

    @property
    def roles(self) -> list[str]:
        from apps.accounts.roles import ROLES

        names = {group.name for group in self.groups.all()}
        return [role for role in ROLES if role in names]

    def has_role(self, role: str) -> bool:
        return role in self.roles

    @property
    def is_operator(self) -> bool:
        from apps.accounts.roles import ROLE_OPERATOR

        return self.is_superuser or self.has_role(ROLE_OPERATOR)
