"""Monthly statements per team (contract §7): written at each close and each restatement.

`write_statements(settings, months)` renders every version of every team's statement of
those months (statements.model reads the marts, statements.render writes the files) into
`REPLICA_LEDGER_STATEMENTS_DIR` as `YYYY-MM/<team>/v<N>/statement.{csv,json,html}`. A
version already written is left as it is (its statement.html exists): re-runs, retries and
later days find it and write nothing. Which versions exist, and what each line says, is
dbt's decision (mart_team_statements, mart_team_statement_lines); nothing here computes a
bill. The Slack message of each new version is `statements.notify`'s.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from datetime import date

from replica_ledger.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Written:
    """One team statement version and what this call did with it."""

    month: date
    team: str
    version: int
    folder: str
    url: str
    status: str  # "written" | "already_written"


#: A close or restatement whose statements a crash left unwritten (or unannounced) is taken
#: up by the next run within this many days of its writing.
RECENT_DAYS = 31


def write_statements(settings: Settings, months: list[date], *, warehouse=None, store=None) -> list[Written]:
    """Write the versions of `months` not written yet; every version's outcome, in order."""
    return [written for written, _ in _write(settings, months, warehouse=warehouse, store=store)]


def _write(settings: Settings, months, *, warehouse=None, store=None):
    from replica_ledger.statements.model import read_month
    from replica_ledger.statements.render import FILES, render_files
    from replica_ledger.statements.store import open_statements
    from replica_ledger.warehouse import open_warehouse

    warehouse = warehouse or open_warehouse(settings)
    store = store or open_statements(settings)
    audit_on = settings.audit_log is not None
    results = []
    for month in sorted(set(months)):
        for statement in read_month(warehouse, month):
            html = f"{statement.folder}/statement.html"
            if store.exists(html):
                results.append((_written(statement, store, "already_written"), statement))
                continue
            files = render_files(statement, settings.currency, audit_on)
            for name in FILES:
                store.create(f"{statement.folder}/{name}", files[name])
            results.append((_written(statement, store, "written"), statement))
    new = [r for r, _ in results if r.status == "written"]
    log.info("statements: %d version(s) written, %d already there", len(new), len(results) - len(new))
    return results


def months_due(settings: Settings, billing: dict, *, warehouse=None) -> list[date]:
    """The months closed or restated by the billing summary `billing`, and those with a
    version written in the last RECENT_DAYS days (a crashed run's are taken up again)."""
    from datetime import timedelta

    from replica_ledger import clock
    from replica_ledger.warehouse import MissingTable, open_warehouse, queries

    months = {date.fromisoformat(m) for m in (*billing.get("months_closed", ()), *billing.get("months_restated", ()))}
    since = clock.now().replace(tzinfo=None) - timedelta(days=RECENT_DAYS)
    with contextlib.suppress(MissingTable):
        months.update(queries.statement_months_written_since(warehouse or open_warehouse(settings), since))
    return sorted(months)


def publish(settings: Settings, months: list[date], *, run_id: str, is_backfill: bool, transport, routes_csv) -> dict:
    """Write the statements of `months`, then announce each version not announced yet on its
    team's route (a backfill records them withheld and posts nothing)."""
    from replica_ledger.alerts.outbox import outbox_of
    from replica_ledger.alerts.routes import load_routes
    from replica_ledger.statements.notify import announce
    from replica_ledger.warehouse import open_warehouse

    warehouse = open_warehouse(settings)
    written = _write(settings, months, warehouse=warehouse)
    base = settings.statements_url
    urls = {(w.month, w.team, w.version): f"{base}/{w.folder}/statement.html" if base else w.url for w, _ in written}
    announced = announce(
        [statement for _, statement in written],
        routes=load_routes(routes_csv),
        ledger=warehouse.statement_log(),
        transport=transport,
        outbox_dir=outbox_of(settings),
        currency=settings.currency,
        run_id=run_id,
        is_backfill=is_backfill,
        urls=urls,
    )
    return {
        "statements_dir": settings.statements_dir,
        "written": [w.folder for w, _ in written if w.status == "written"],
        "already_written": [w.folder for w, _ in written if w.status == "already_written"],
        "announced": [f"{a.month:%Y-%m}/{a.team}/v{a.version} {a.route}: {a.status}" for a in announced],
    }


def _written(statement, store, status: str) -> Written:
    return Written(
        statement.month,
        statement.team,
        statement.version,
        statement.folder,
        store.url(f"{statement.folder}/statement.html"),
        status,
    )
