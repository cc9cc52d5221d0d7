"""The price table's rows from the provider modules: each declares its list prices with their dates.

`model_prices_load` adds the rows the table lacks (a row is provider, model and start date); it runs
after every `migrate` and as `manage.py prices_load`, so a new provider module, or a new price row in
one, is priced from the next deploy on without a migration of its own. Rows are only ever added:
an operator's edits and later prices (new rows, in the admin) stay as they are.
"""

from __future__ import annotations

from apps.providers.registry import provider_prices
from apps.quotas.models import ModelPrice


def model_prices_load() -> int:
    """Add the provider modules' price rows missing from the table; returns how many were added."""
    added = 0
    for provider, row in provider_prices():
        _price, created = ModelPrice.objects.get_or_create(
            provider=provider,
            model=row.model,
            effective_from=row.effective_from,
            defaults={
                "input_per_million": row.input_per_million,
                "output_per_million": row.output_per_million,
                "note": row.source[:200],
            },
        )
        added += created
    return added
