from decimal import Decimal

import pytest

from replica_ledger.money import NotAnAmount, amount_text, cents, money_text
from replica_ledger.settings import SettingsError, load_settings


@pytest.mark.parametrize(
    ("value", "plain", "shown"),
    [
        (Decimal("351"), "351.00", "351.00 EUR"),  # BigQuery NUMERIC drops the zeros
        (Decimal("351.00"), "351.00", "351.00 EUR"),  # DuckDB DECIMAL keeps them
        (Decimal("0"), "0.00", "0.00 EUR"),
        (Decimal("236.53"), "236.53", "236.53 EUR"),
        (Decimal("-57.00"), "-57.00", "-57.00 EUR"),
        (Decimal("1234567.5"), "1234567.50", "1,234,567.50 EUR"),
        (294, "294.00", "294.00 EUR"),
        ("0.1", "0.10", "0.10 EUR"),
    ],
)
def test_every_amount_has_two_decimals_and_the_currency(value, plain, shown):
    assert amount_text(value) == plain
    assert money_text(value, "EUR") == shown


@pytest.mark.parametrize("value", [Decimal("236.525"), 236.53, Decimal("NaN"), Decimal("Infinity"), "abc", True])
def test_what_is_not_an_amount_in_cents_is_refused_not_rounded(value):
    with pytest.raises(NotAnAmount):
        cents(value)


def test_the_currency_is_a_setting_with_a_checked_code():
    assert load_settings({}).currency == "EUR"
    assert load_settings({"REPLICA_LEDGER_CURRENCY": "USD"}).currency == "USD"
    with pytest.raises(SettingsError, match="REPLICA_LEDGER_CURRENCY"):
        load_settings({"REPLICA_LEDGER_CURRENCY": "<!here>"})
