"""Team -> Slack route mapping, kept as data (``dbt_project/seeds/team_slack_routes.csv``).

CSV header: ``team,slack_conn_id,channel[,mention]``. The row whose team is ``*`` is the
default for teams not listed. A row may leave ``slack_conn_id`` empty to use the default
row's connection (then only its ``channel`` label differs); it may leave ``channel`` empty.

``mention`` (optional) is the Slack user group a team's alerts mention: ``<!subteam^ID>`` or
the bare ``ID``. The ID is checked strictly (:data:`SUBTEAM_ID`): a value from a file that
reaches Slack as a mention must not be able to become ``<!channel>`` or a link. An invalid
one is never posted; :attr:`Routes.problems` names it (the alert task logs it and reports
it in its result), and the team's alerts go out without a mention.

Note on ``channel``: a Slack Incoming Webhook posts to the channel it was created for, and
cannot be redirected by the payload. So the connection id decides where a message goes; the
channel is the human label of that destination, kept in the ledger and the outbox file name.
Two routes with the same connection but different channel labels are still two messages.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from replica_ledger.safe_text import for_terminal

DEFAULT_TEAM = "*"
DEFAULT_CONN_ID = "slack_default_webhook"
REQUIRED_COLUMNS = ("team", "slack_conn_id", "channel")
#: A Slack user group ID (Slack's IDs of user groups start with S).
SUBTEAM_ID = re.compile(r"S[A-Z0-9]{2,20}")
_SUBTEAM_MENTION = re.compile(r"<!subteam\^([^<>|]*)>")


@dataclass(frozen=True, order=True)
class Route:
    """Where a message goes: a Slack Incoming Webhook connection (and its channel label)."""

    slack_conn_id: str
    channel: str = ""

    @property
    def key(self) -> str:
        """Stable identity of the route, used as the ledger key: ``conn_id`` or ``conn_id#channel``."""
        channel = self.channel.lstrip("#")
        return f"{self.slack_conn_id}#{channel}" if channel else self.slack_conn_id

    @property
    def safe_name(self) -> str:
        """The route key made safe for a file name."""
        return safe_filename(self.key)


@dataclass
class Routes:
    """Team routing table with a default route."""

    default: Route = field(default_factory=lambda: Route(DEFAULT_CONN_ID))
    by_team: dict[str, Route] = field(default_factory=dict)
    #: team -> its user group ID (validated: :func:`subteam_id`).
    mentions: dict[str, str] = field(default_factory=dict)
    #: What was refused while reading the file (an invalid mention), one line each.
    problems: list[str] = field(default_factory=list)

    def mention_for(self, team: str | None) -> str | None:
        """``<!subteam^ID>`` of ``team``, or None when it has none (or an invalid one)."""
        group = self.mentions.get(team or "")
        return f"<!subteam^{group}>" if group else None

    def for_team(self, team: str | None) -> Route:
        """The route for ``team``; the default route for unknown or empty teams."""
        if team and team in self.by_team:
            return self.by_team[team]
        return self.default


def safe_filename(value: str) -> str:
    """``value`` reduced to ``[A-Za-z0-9._-]`` (others become ``_``), never empty."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", value).strip("._")
    return cleaned or "_"


def subteam_id(value: str) -> str | None:
    """The user group ID of a ``mention`` cell (``<!subteam^ID>`` or ``ID``); None when it is
    not exactly that with an ID of :data:`SUBTEAM_ID` (nothing else is ever posted)."""
    wrapped = _SUBTEAM_MENTION.fullmatch(value)
    group = wrapped.group(1) if wrapped else value
    return group if SUBTEAM_ID.fullmatch(group) else None


def load_routes(path: str | Path, *, default_conn_id: str = DEFAULT_CONN_ID) -> Routes:
    """Read the routing CSV (``team,slack_conn_id,channel[,mention]``).

    ``default_conn_id`` is used when the CSV has no ``*`` row, and for rows (including ``*``)
    whose ``slack_conn_id`` is empty. Raises ``ValueError`` on a missing column or a team
    listed twice.
    """
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        if missing:
            raise ValueError(f"{path}: missing column(s) {missing}; expected header {','.join(REQUIRED_COLUMNS)}")
        rows = []
        for lineno, raw in enumerate(reader, start=2):
            row = {(k or "").strip(): (v or "").strip() for k, v in raw.items() if k is not None}
            if not any(row.values()):
                continue
            if not row["team"]:
                raise ValueError(f"{path}:{lineno}: empty team")
            rows.append((lineno, row))

    default_rows = [r for _, r in rows if r["team"] == DEFAULT_TEAM]
    if len(default_rows) > 1:
        raise ValueError(f"{path}: default team {DEFAULT_TEAM!r} listed twice")
    default_row = default_rows[0] if default_rows else None
    default_conn = (default_row or {}).get("slack_conn_id") or default_conn_id
    default = Route(default_conn, (default_row or {}).get("channel", ""))
    by_team: dict[str, Route] = {}
    mentions: dict[str, str] = {}
    problems: list[str] = []
    for lineno, row in rows:
        team = row["team"]
        mention = row.get("mention", "")
        if mention:
            group = subteam_id(mention)
            if group is None:
                problems.append(
                    f"{Path(path).name}:{lineno}: mention {for_terminal(mention, 60)!r} of team"
                    f" {for_terminal(team, 60)!r} is not <!subteam^ID> with an ID of S and 2 to 20 capital"
                    " letters or digits: not posted"
                )
            else:
                mentions[team] = group
        if team == DEFAULT_TEAM:
            continue
        if team in by_team:
            raise ValueError(f"{path}:{lineno}: team {team!r} listed twice")
        by_team[team] = Route(row["slack_conn_id"] or default_conn, row["channel"])
    return Routes(default=default, by_team=by_team, mentions=mentions, problems=problems)
