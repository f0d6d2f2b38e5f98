"""Print what the warehouse found: breaches, gaps, quarantined changes and the bills.

`python -m replica_ledger.report [--month YYYY-MM]` reads the DuckDB warehouse named by
REPLICA_LEDGER_DUCKDB (default .local/warehouse.duckdb).
"""

from __future__ import annotations

import argparse
from datetime import date

from replica_ledger import warehouse
from replica_ledger.settings import Settings, load_settings


def _rows(con, sql: str, params: list | None = None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


def _table(title: str, headers: list[str], rows: list[tuple]) -> str:
    cells = [headers, *[[("" if value is None else str(value)) for value in row] for row in rows]]
    widths = [max(len(row[index]) for row in cells) for index in range(len(headers))]
    lines = [f"\n{title} ({len(rows)})"]
    for number, row in enumerate(cells):
        lines.append("  " + "  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)))
        if number == 0:
            lines.append("  " + "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def render_report(settings: Settings, month: date | None = None) -> str:
    with warehouse.connect(settings.duckdb_path) as con:
        month_filter = "where billing_month = ?" if month else ""
        month_params = [month] if month else []
        sections = [
            _table(
                "Breach episodes",
                ["cluster", "api", "team", "breach", "started", "last seen", "ended", "max observed", "approved"],
                _rows(
                    con,
                    "select cluster, namespace || '/' || deployment, team, breach_type, started_on, last_seen_on,"
                    " ended_on, max_observed_value, last_approved_max_replicas"
                    " from fct_breach_episodes order by started_on, namespace, deployment, breach_type",
                ),
            ),
            _table(
                "Snapshot gaps",
                ["day", "cluster", "reason"],
                _rows(con, "select snapshot_date, cluster, gap_reason from fct_snapshot_gaps order by 1, 2"),
            ),
            _table(
                "Quarantined PED change rows",
                ["line", "change_id", "reason", "detail"],
                _rows(
                    con,
                    "select arrival_seq, change_id, quarantine_reason, quarantine_detail"
                    " from fct_limit_change_quarantine order by arrival_seq",
                ),
            ),
            _table(
                "Monthly bill per API",
                ["month", "api", "team", "max", "vCPU", "GB", "amount", "prorated"],
                _rows(
                    con,
                    "select billing_month, namespace || '/' || deployment, team, billed_max_replicas, cpu,"
                    f" memory_gb, amount, prorated_amount from mart_monthly_billing {month_filter}"
                    " order by billing_month, namespace, deployment",
                    month_params,
                ),
            ),
        ]
    return "\n".join(sections)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--month", type=lambda value: date.fromisoformat(value + "-01"), default=None)
    args = parser.parse_args(argv)
    print(render_report(load_settings(), args.month))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
