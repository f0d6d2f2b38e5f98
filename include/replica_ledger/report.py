"""Print what the warehouse found: breaches, gaps, quarantined changes and the bills.

`python -m replica_ledger.report [--month YYYY-MM]` reads the warehouse of the dbt target:
the DuckDB file named by REPLICA_LEDGER_DUCKDB (default .local/warehouse.duckdb), or
BigQuery (REPLICA_LEDGER_DBT_TARGET=bigquery / bigquery_emulator).
"""

from __future__ import annotations

import argparse
from datetime import date

from replica_ledger import pipeline
from replica_ledger.audit.attribution import HEADERS, who_crossed_rows
from replica_ledger.settings import Settings, load_settings


def _rows(settings: Settings, sql: str, params: list | None = None) -> list[tuple]:
    """Rows of `sql` on the dbt target's warehouse (DuckDB, or BigQuery and its emulator)."""
    return [tuple(row.values()) for row in pipeline._query(settings, sql, params)]


def _table(title: str, headers: list[str], rows: list[tuple]) -> str:
    cells = [headers, *[[("" if value is None else str(value)) for value in row] for row in rows]]
    widths = [max(len(row[index]) for row in cells) for index in range(len(headers))]
    lines = [f"\n{title} ({len(rows)})"]
    for number, row in enumerate(cells):
        lines.append("  " + "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)))
        if number == 0:
            lines.append("  " + "  ".join("-" * width for width in widths))
    return "\n".join(lines)


# The billing models are built by the first month close: before it they do not exist.
_MISSING_TABLE_ERRORS = frozenset({"CatalogException", "NotFound"})  # DuckDB, BigQuery


def _billing_table(settings: Settings, title: str, headers: list[str], sql: str, params: list) -> str:
    try:
        rows = _rows(settings, sql, params)
    except Exception as exc:
        if type(exc).__name__ not in _MISSING_TABLE_ERRORS:
            raise
        return f"\n{title}: none yet (no month has been closed)"
    return _table(title, headers, rows)


def render_report(settings: Settings, month: date | None = None) -> str:
    month_filter = "where billing_month = ?" if month else ""
    month_params = [month] if month else []
    sections = [
        _table(
            "Breach episodes",
            ["cluster", "api", "team", "breach", "started", "last seen", "ended", "max observed", "approved"],
            _rows(
                settings,
                "select cluster, namespace || '/' || deployment, team, breach_type, started_on, last_seen_on,"
                " ended_on, max_observed_value, last_approved_max_replicas"
                " from fct_breach_episodes order by started_on, namespace, deployment, breach_type",
            ),
        ),
        _table(
            "Snapshot gaps",
            ["day", "cluster", "reason"],
            _rows(settings, "select snapshot_date, cluster, gap_reason from fct_snapshot_gaps order by 1, 2"),
        ),
        _table(
            "Quarantined PED change rows",
            ["line", "change_id", "reason", "detail"],
            _rows(
                settings,
                "select arrival_seq, change_id, quarantine_reason, quarantine_detail"
                " from fct_limit_change_quarantine order by arrival_seq",
            ),
        ),
        _billing_table(
            settings,
            "Monthly bill per API",
            ["month", "api", "team", "max", "vCPU", "GB", "amount", "prorated", "observed max", "exposure", "version"],
            "select billing_month, namespace || '/' || deployment, team, billed_max_replicas, cpu,"
            " memory_gb, amount, prorated_amount, observed_max_replicas, unapproved_exposure_amount,"
            f" statement_version from mart_monthly_billing {month_filter}"
            " order by billing_month, namespace, deployment",
            month_params,
        ),
        _billing_table(
            settings,
            "Restated statement lines",
            ["month", "api", "version", "amount", "closed at", "superseded at", "reason"],
            "select billing_month, namespace || '/' || deployment, statement_version, amount, closed_at,"
            " superseded_at, restatement_reason from fct_billing_statements"
            " where (restatement_reason is not null or superseded_at is not null)"
            f"{' and billing_month = ?' if month else ''}"
            " order by billing_month, namespace, deployment, statement_version",
            month_params,
        ),
    ]
    who = who_crossed_rows(lambda sql: pipeline._query(settings, sql), settings.audit_log is not None)
    if who is not None:  # the warehouse has the attribution columns (fct_breach_alerts)
        sections.insert(1, _table("Who crossed the limit (every episode, from the audit log)", HEADERS, who))
    return "\n".join(sections)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--month", type=lambda value: date.fromisoformat(value + "-01"), default=None)
    args = parser.parse_args(argv)
    print(render_report(load_settings(), args.month))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
