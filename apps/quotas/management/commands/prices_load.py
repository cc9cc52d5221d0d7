"""Load the provider modules' list prices into the price table (also done after every migrate)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from apps.quotas.prices import model_prices_load


class Command(BaseCommand):
    help = "Add the price rows the provider modules declare and the price table lacks."

    def handle(self, *args: Any, **options: Any) -> None:
        added = model_prices_load()
        self.stdout.write(f"{added} price row(s) added.")
