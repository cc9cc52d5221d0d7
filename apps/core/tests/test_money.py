from decimal import Decimal

import pytest

from apps.core.money import money_format


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (Decimal("0.0000216000000000000"), "$0.0000216"),
        (Decimal("1234.5"), "$1,234.50"),
        (Decimal("0"), "$0.00"),
        ("0.00067", "$0.00067"),
        (Decimal("-2.5"), "-$2.50"),
        (None, "—"),
        ("not a number", "—"),
    ],
)
def test_money_is_dollars_with_at_least_cents_and_no_trailing_zeros(value, shown):
    assert money_format(value) == shown
