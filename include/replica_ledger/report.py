"""Print what the warehouse found: breaches, gaps, quarantined changes and the bills.

`python -m replica_ledger.report [--month YYYY-MM]` reads the warehouse of the dbt target:
the DuckDB file named by REPLICA_LEDGER_DUCKDB (default .local/warehouse.duckdb), or
BigQuery (REPLICA_LEDGER_DBT_TARGET=bigquery / bigquery_emulator).
"""

from __future__ import annotations

import argparse
import json
from datetime import date

from replica_ledger.audit.attribution import HEADERS, who_crossed_rows
from replica_ledger.command import settings_for_command
from replica_ledger.money import money_text
from replica_ledger.safe_text import for_terminal
from replica_ledger.settings import Settings
from replica_ledger.warehouse import MissingTable, Warehouse, open_warehouse, queries


def _values(rows: list[dict]) -> list[tuple]:
    return [tuple(row.values()) for row in rows]


def _table(title: str, headers: list[str], rows: list[tuple]) -> str:
    cells = [headers, *[[("" if value is None else for_terminal(value)) for value in row] for row in rows]]
    widths = [max(len(row[index]) for row in cells) for index in range(len(headers))]
    lines = [f"\n{title} ({len(rows)})"]
    for number, row in enumerate(cells):
        lines.append("  " + "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)))
        if number == 0:
            lines.append("  " + "  ".join("-" * width for width in widths))
    return "\n".join(lines)


#: The columns of the billing queries that are amounts.
_AMOUNTS = ("amount", "prorated_amount", "unapproved_exposure_amount")


def _with_currency(rows: list[dict], currency: str) -> list[dict]:
    """Each amount with two decimals and the currency (money.py): BigQuery's NUMERIC comes
    back as Decimal('351') where DuckDB's DECIMAL(18,2) gives Decimal('351.00')."""
    return [
        {
            name: money_text(value, currency) if name in _AMOUNTS and value is not None else value
            for name, value in row.items()
        }
        for row in rows
    ]


def _billing_table(
    title: str, headers: list[str], read, warehouse: Warehouse, month: date | None, currency: str
) -> str:
    """The billing models are built by the first month close: before it they do not exist."""
    try:
        rows = read(warehouse, month)
    except MissingTable:
        return f"\n{title}: none yet (no month has been closed)"
    return _table(title, headers, _values(_with_currency(rows, currency)))


_SNAPSHOT_REJECT_HEADERS = ["day", "cluster", "item", "kind", "object", "reason"]


def _snapshot_rejects(warehouse: Warehouse, month: date | None) -> list[tuple]:
    """The period's rejected objects, each named namespace/name when its JSON still says so
    (item -1: a whole file, e.g. one whose name is not a cluster name)."""
    return [
        (
            row["snapshot_date"],
            row["cluster"],
            row["item_index"],
            row["kind"],
            _object_name(row["item_json"]),
            row["reason"],
        )
        for row in queries.report_snapshot_rejects(warehouse, month)
    ]


def _object_name(item_json: str | None) -> str:
    try:
        metadata = json.loads(item_json or "null").get("metadata") or {}
    except (ValueError, AttributeError):
        return ""
    parts = [metadata.get("namespace"), metadata.get("name")]
    return "/".join(part[:80] if isinstance(part, str) else "?" for part in parts) if any(parts) else ""


_ADMISSION_HEADERS = ["when", "cluster", "api", "admission", "change", "approved", "policy"]
_FIELD_NAMES = {"max_replicas": "HPA max", "replicas": "replicas"}


def _admission_warnings(warehouse: Warehouse, month: date | None) -> list[tuple]:
    """ "admission warned ana.lopez at 15:20": the edits a policy flagged (with the Audit action)."""
    try:
        rows = queries.report_admission_warnings(warehouse, month)
    except MissingTable:  # no audit log loaded yet
        return []
    return [
        (
            row["changed_at"],
            row["cluster"],
            row["api"],
            f"admission warned {(row['principal'] or 'someone').split('@')[0]} at {row['changed_at']:%H:%M}",
            f"{_FIELD_NAMES.get(row['field'], row['field'])} {_value(row['from_value'])} -> {row['to_value']}",
            row["approved_max_replicas"],
            row["admission_failure"],
        )
        for row in rows
    ]


def _value(value) -> str:
    return "?" if value is None else str(value)


def render_report(settings: Settings, month: date | None = None, *, bigquery_client=None) -> str:
    """The report of the warehouse of ``settings`` (``bigquery_client`` injects a client, an
    emulator's, when the target is BigQuery)."""
    warehouse = open_warehouse(settings, bigquery_client=bigquery_client)
    sections = [
        _table(
            "Breach episodes",
            ["cluster", "api", "team", "breach", "started", "last seen", "ended", "max observed", "approved"],
            _values(queries.report_episodes(warehouse)),
        ),
        _table("Snapshot gaps", ["day", "cluster", "reason"], _values(queries.report_gaps(warehouse))),
        _table(
            "Quarantined PED change rows",
            ["line", "change_id", "reason", "detail"],
            _values(queries.report_quarantine(warehouse)),
        ),
        _table("Rejected snapshot objects and files", _SNAPSHOT_REJECT_HEADERS, _snapshot_rejects(warehouse, month)),
        _table(
            "Rejected audit entries",
            ["day", "cluster", "file", "line", "reason"],
            _values(queries.report_audit_rejects(warehouse, month)),
        ),
        _billing_table(
            "Monthly bill per API",
            ["month", "api", "team", "max", "vCPU", "GB", "amount", "prorated", "observed max", "exposure", "version"],
            queries.report_bills,
            warehouse,
            month,
            settings.currency,
        ),
        _billing_table(
            "Restated statement lines",
            ["month", "api", "version", "amount", "closed at", "superseded at", "reason"],
            queries.report_restatements,
            warehouse,
            month,
            settings.currency,
        ),
    ]
    who = who_crossed_rows(warehouse, settings.audit_log is not None)
    if who is not None:  # the warehouse has the attribution columns (fct_breach_alerts)
        sections.insert(1, _table("Who crossed the limit (every episode, from the audit log)", HEADERS, who))
    if settings.audit_log is not None:
        sections.insert(
            2 if who is not None else 1,
            _table(
                "Edits the admission policies flagged (audit log)",
                _ADMISSION_HEADERS,
                _admission_warnings(warehouse, month),
            ),
        )
    return "\n".join(sections)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--month", type=lambda value: date.fromisoformat(value + "-01"), default=None)
    args = parser.parse_args(argv)
    print(render_report(settings_for_command(warehouse=True), args.month))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
