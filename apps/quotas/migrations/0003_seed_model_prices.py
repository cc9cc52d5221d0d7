"""Seed the price table with the providers' public list prices (US dollars per million tokens).

Operators edit and add prices in the admin (Quotas, Model prices); a change is a new row with its own
start, so this seed is only where the table begins.
"""

import datetime as dt
from decimal import Decimal

from django.db import migrations

START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
SOURCE = "public list price at seeding (openai.com/api/pricing, anthropic.com/pricing)"
PRICES = [
    ("openai", "gpt-4o", "2.50", "10.00"),
    ("openai", "gpt-4o-mini", "0.15", "0.60"),
    ("openai", "gpt-4.1", "2.00", "8.00"),
    ("openai", "gpt-4.1-mini", "0.40", "1.60"),
    ("openai", "gpt-4.1-nano", "0.10", "0.40"),
    ("openai", "o4-mini", "1.10", "4.40"),
    ("anthropic", "claude-opus-4-1", "15.00", "75.00"),
    ("anthropic", "claude-sonnet-4-5", "3.00", "15.00"),
    ("anthropic", "claude-sonnet-4-0", "3.00", "15.00"),
    ("anthropic", "claude-3-5-haiku-latest", "0.80", "4.00"),
    ("anthropic", "claude-haiku-4-5", "1.00", "5.00"),
]


def seed(apps, schema_editor):
    ModelPrice = apps.get_model("quotas", "ModelPrice")
    for provider, model, price_in, price_out in PRICES:
        ModelPrice.objects.get_or_create(
            provider=provider,
            model=model,
            effective_from=START,
            defaults={
                "input_per_million": Decimal(price_in),
                "output_per_million": Decimal(price_out),
                "note": SOURCE,
            },
        )


def unseed(apps, schema_editor):
    ModelPrice = apps.get_model("quotas", "ModelPrice")
    for provider, model, _in, _out in PRICES:
        ModelPrice.objects.filter(provider=provider, model=model, effective_from=START, note=SOURCE).delete()


class Migration(migrations.Migration):
    dependencies = [("quotas", "0002_usage_ledger_and_prices")]

    operations = [migrations.RunPython(seed, unseed)]
