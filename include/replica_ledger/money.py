"""Money as people read it: the marts' exact amounts, with two decimals and the currency.

The billing rules (charge, rounding to cents) live in dbt; this module only writes amounts
down. A warehouse hands an amount back as a Decimal (DuckDB DECIMAL keeps its scale,
BigQuery NUMERIC drops trailing zeros: ``351`` for ``351.00``), so every place that shows an
amount (report, alerts, statements, CSV) goes through here and shows the same text.
"""

from __future__ import annotations

from decimal import Context, Decimal, Inexact, InvalidOperation

CENTS = Decimal("0.01")
# Inexact is trapped: an amount with a third decimal never left dbt's rounding, and showing it
# rounded again here would hide that bug.
_EXACT = Context(traps=[Inexact, InvalidOperation])


class NotAnAmount(ValueError):
    """A value that is not a finite amount in whole cents."""


def cents(value: Decimal | int | str) -> Decimal:
    """The amount with exactly two decimals (``Decimal('351')`` -> ``Decimal('351.00')``)."""
    if isinstance(value, float | bool):
        raise NotAnAmount(f"{value!r}: amounts are exact decimals, never a binary float")
    try:
        amount = Decimal(value)
        if not amount.is_finite():
            raise NotAnAmount(f"{value!r} is not a finite amount")
        return amount.quantize(CENTS, context=_EXACT)
    except (Inexact, InvalidOperation):
        raise NotAnAmount(f"{value!r} is not an amount in whole cents") from None


def amount_text(value: Decimal | int | str) -> str:
    """The plain amount, for files read by programs (CSV, JSON): ``351.00``, ``-57.00``."""
    return f"{cents(value):f}"


def money_text(value: Decimal | int | str, currency: str) -> str:
    """The amount for people, grouped by thousands: ``1,351.00 EUR``."""
    return f"{cents(value):,.2f} {currency}"
