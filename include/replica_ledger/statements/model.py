"""A month's team statements as plain data, read from the marts (no billing rule here).

`read_month` asks the warehouse five questions (warehouse/queries.py): the team versions
(mart_team_statements), their lines (mart_team_statement_lines), the chart rows
(mart_statement_api_days), the PED versions in force (dim_replica_limits) and the month's
breach episodes with who crossed the limit (fct_breach_episodes, fct_breach_alerts).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from replica_ledger.warehouse import Warehouse, queries


def next_month(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


@dataclass
class Api:
    """One API of a month: its chart rows, PED versions and episodes (shared by every version)."""

    namespace: str
    deployment: str
    days: list[dict] = field(default_factory=list)
    limits: list[dict] = field(default_factory=list)
    episodes: list[dict] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"{self.namespace}/{self.deployment}"


@dataclass
class TeamStatement:
    """One version of one team's statement for a month: its header row and its lines."""

    month: date
    team: str
    version: int
    header: dict
    lines: list[dict]
    apis: dict[tuple[str, str], Api]

    @property
    def folder(self) -> str:
        """`YYYY-MM/<team>/v<N>` (contract §7); the team is a safe path segment (`path_segment`)."""
        return f"{self.month:%Y-%m}/{path_segment(self.team)}/v{self.version}"

    @property
    def billed_lines(self) -> list[dict]:
        """The lines on the statement (not the ones removed since the previous version)."""
        return [line for line in self.lines if line["change_kind"] != "removed"]

    @property
    def removed_lines(self) -> list[dict]:
        return [line for line in self.lines if line["change_kind"] == "removed"]


def path_segment(value: str) -> str:
    """A team name as one folder name: the characters of a Kubernetes name stay, any other
    (a `/`, `..`, a space) becomes `_`, so a team can never write outside its folder."""
    import re

    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", value).strip(".")
    return cleaned or "_"


def read_month(warehouse: Warehouse, month: date) -> list[TeamStatement]:
    """Every version of every team's statement for `month`, oldest version first."""
    end = next_month(month)
    headers = queries.team_statement_versions(warehouse, month)
    if not headers:
        return []
    lines_by_version: dict[tuple[str, int], list[dict]] = defaultdict(list)
    for line in queries.team_statement_lines(warehouse, month):
        lines_by_version[(line["team"], line["team_version"])].append(line)
    apis: dict[tuple[str, str], Api] = {}

    def api(row: dict) -> Api:
        key = (row["namespace"], row["deployment"])
        if key not in apis:
            apis[key] = Api(*key)
        return apis[key]

    for row in queries.statement_api_days(warehouse, month):
        api(row).days.append(row)
    for row in queries.statement_limit_versions(warehouse, month, end):
        api(row).limits.append(row)
    for row in queries.statement_episodes(warehouse, month, end):
        api(row).episodes.append(row)
    statements = []
    for header in headers:
        lines = lines_by_version[(header["team"], header["team_version"])]
        keys = {(line["namespace"], line["deployment"]) for line in lines}
        statements.append(
            TeamStatement(
                month=month,
                team=header["team"],
                version=header["team_version"],
                header=header,
                lines=lines,
                apis={key: apis.get(key) or Api(*key) for key in sorted(keys)},
            )
        )
    return statements
