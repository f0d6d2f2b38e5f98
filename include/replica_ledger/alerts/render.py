"""Block Kit rendering of one run's breach episodes: one message per Slack route.

Slack's limits are enforced here, not hoped for:

* at most :data:`MAX_BLOCKS` (50) blocks per message;
* at most :data:`MAX_TEXT` (3,000) characters per text field (150 for the header);
* no API is ever dropped silently: APIs that do not fit in their own section are listed in
  an overflow section ("...and 37 more in payments: ...") and, when even the names do not fit,
  counted there. ``RoutedMessage.accounted_apis`` says where each API went.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from replica_ledger.alerts.model import (
    BREACH_TYPE_WORDS,
    BREACH_TYPES,
    HPA_MAX_OVER_LIMIT,
    UNREGISTERED_DEPLOYMENT,
    AlertBatch,
    Episode,
)
from replica_ledger.alerts.routes import Route, Routes, safe_filename

MAX_BLOCKS = 50
MAX_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10
# Header, summary context, links context.
_FIXED_BLOCKS = 3


@dataclass
class RoutedMessage:
    """One Slack message of one run for one route, ready to post (``payload``)."""

    route: Route
    teams: list[str]
    snapshot_date: date
    run_id: str
    dag_id: str
    payload: dict[str, Any]
    new_count: int = 0
    open_count: int = 0
    resolved_count: int = 0
    #: team -> APIs (``namespace/deployment``) with their own section.
    apis_in_sections: dict[str, list[str]] = field(default_factory=dict)
    #: team -> APIs only summarized in an overflow block.
    apis_in_overflow: dict[str, list[str]] = field(default_factory=dict)
    #: The episodes this message announces (its "new" list), each once per route.
    announced: list[Episode] = field(default_factory=list)
    #: What it was rendered from, so that it can be rendered again for fewer episodes.
    batch: AlertBatch | None = field(default=None, repr=False, compare=False)
    episodes: list[Episode] = field(default_factory=list, repr=False, compare=False)

    def narrowed(self, keys: set) -> RoutedMessage | None:
        """The same message announcing only the episodes whose :attr:`Episode.key` is in ``keys``."""
        if self.batch is None:
            raise ValueError("this message cannot be re-rendered (no batch)")
        keep = [ep for ep in self.announced if ep.key in keys]
        return _render_route(self.batch, self.route, self.episodes, keep)

    @property
    def payload_json(self) -> str:
        """The payload as canonical JSON (what is hashed and written to the outbox)."""
        return json.dumps(self.payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))

    @property
    def payload_sha256(self) -> str:
        """What the message says, without its last block (the run/log link).

        The link differs between runs of the same day (Airflow 3 gives every manual run a
        new id) and between tries; the content does not. The ledger compares this hash to
        recognise a message that was already sent for the day, whichever run sent it.
        """
        content = {**self.payload, "blocks": self.payload.get("blocks", [])[:-1]}
        canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @property
    def accounted_apis(self) -> dict[str, list[str]]:
        """team -> every API with a new episode, whether shown in a section or summarized."""
        out: dict[str, list[str]] = {}
        for team in self.teams:
            out[team] = sorted(self.apis_in_sections.get(team, []) + self.apis_in_overflow.get(team, []))
        return out

    @property
    def outbox_stem(self) -> str:
        """``<snapshot_date>__<run_id-safe>__<route-safe>`` (no extension)."""
        return f"{self.snapshot_date.isoformat()}__{safe_filename(self.run_id)}__{self.route.safe_name}"


# --------------------------------------------------------------------------------------------
# Text helpers


def escape_mrkdwn(value: object) -> str:
    """Escape the three characters Slack's mrkdwn requires escaping."""
    return str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int = MAX_TEXT, marker: str = " …(truncated)") -> str:
    """``text`` cut to at most ``limit`` characters, with a visible marker when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(marker))].rstrip() + marker


def _link(url: str | None, label: str) -> str:
    if not url:
        return label
    return f"<{url}|{escape_mrkdwn(label)}>"


def _money(amount: float) -> str:
    return f"{amount:,.2f}"


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def episode_line(ep: Episode) -> str:
    """One mrkdwn bullet describing one announced episode of an API.

    The cost is the one dbt computed (fct_breach_alerts.excess_monthly_cost, the billing
    formula); the per-replica figure beside it only divides it by the excess.
    """
    what = BREACH_TYPE_WORDS[ep.breach_type]
    where = f"on `{escape_mrkdwn(ep.cluster)}`"
    since = f"since {ep.started_on.isoformat()}{_late_note(ep)}"
    if ep.breach_type == UNREGISTERED_DEPLOYMENT:
        return (
            f"• *{what}* {where}: {_plural(int(ep.observed_value), 'replica')}, "
            f"not registered in PED (no approved max, no cost estimate), {since}."
        )
    observed_label = "HPA maxReplicas" if ep.breach_type == HPA_MAX_OVER_LIMIT else "desired replicas"
    excess = ep.excess_replicas
    line = (
        f"• *{what}* {where}: {observed_label} {ep.observed_value} vs approved max "
        f"{ep.approved_max_replicas} (+{excess}), {since}."
    )
    cost = ep.excess_monthly_cost
    if cost is None:
        line += " Excess cost unknown (no cpu/memory on record)."
    elif excess:
        line += f" Excess ≈ {_money(cost)} a month ({excess} x {_money(cost / excess)})."
    else:
        line += f" Excess ≈ {_money(cost)} a month."
    return line


def _late_note(ep: Episode) -> str:
    """Why an episode is announced after its first day: its start became known late."""
    if ep.status == "open":
        return " (reported late: its first day's snapshot arrived after that day's alert)"
    if ep.status == "resolved":
        return " (reported late, already resolved)"
    return ""


def api_section_text(api: str, episodes: list[Episode]) -> str:
    order = {bt: i for i, bt in enumerate(BREACH_TYPES)}
    eps = sorted(episodes, key=lambda e: (order[e.breach_type], e.cluster))
    lines = [f"*{escape_mrkdwn(api)}*"] + [episode_line(e) for e in eps]
    text = "\n".join(lines)
    if len(text) <= MAX_TEXT:
        return text
    # Too many clusters x types for one field: keep whole lines, say how many were left out.
    kept: list[str] = []
    for i, line in enumerate(lines):
        rest = len(lines) - i
        tail = f"\n…and {rest} more line(s) for this API."
        if len("\n".join([*kept, line])) + len(tail) > MAX_TEXT:
            return clip("\n".join(kept) + tail)
        kept.append(line)
    return clip(text)


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text)}}


def _context(texts: list[str]) -> dict[str, Any]:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": clip(t)} for t in texts[:MAX_CONTEXT_ELEMENTS]],
    }


def _overflow_text(prefix: str, names: list[str]) -> str:
    """``prefix: a, b, c`` listing as many names as fit in one text field."""
    listed: list[str] = []
    for i, name in enumerate(names):
        rest = len(names) - i - 1
        candidate = f"{prefix}: " + ", ".join([*listed, name])
        tail = f" (and {rest} not named here)" if rest else ""
        if len(candidate) + len(tail) > MAX_TEXT:
            break
        listed.append(name)
    not_named = len(names) - len(listed)
    text = f"{prefix}: " + ", ".join(listed) if listed else prefix
    if not_named:
        text += f" (and {not_named} not named here)" if listed else f" ({not_named} not named here)"
    return clip(text)


# --------------------------------------------------------------------------------------------
# Block budget


def allocate_sections(sizes: list[int], budget: int) -> tuple[int, list[int]]:
    """Share ``budget`` blocks among teams with ``sizes[i]`` API sections each.

    Costs: one header block per team shown, one block per API section, one overflow block
    per team shown partly, one global overflow block when some teams are not shown at all.
    Returns ``(teams_shown, sections_per_shown_team)``; teams are shown in the given order.
    """

    def cost(sub: list[int], level: int) -> int:
        return sum(min(s, level) for s in sub) + sum(1 for s in sub if s > level)

    n = len(sizes)
    for shown in range(n, 0, -1):
        sub = sizes[:shown]
        room = budget - shown - (1 if shown < n else 0)
        if room < 0:
            continue
        if sum(sub) <= room:
            return shown, list(sub)
        if cost(sub, 0) > room:
            continue
        level = 0
        while level < max(sub) and cost(sub, level + 1) <= room:
            level += 1
        alloc = [min(s, level) for s in sub]
        spare = room - cost(sub, level)
        changed = True
        while changed:
            changed = False
            for i, s in enumerate(sub):
                if alloc[i] < s:
                    delta = 0 if alloc[i] + 1 == s else 1
                    if delta <= spare:
                        alloc[i] += 1
                        spare -= delta
                        changed = True
        return shown, alloc
    return 0, []


# --------------------------------------------------------------------------------------------
# Messages


def _api_key(ep: Episode) -> str:
    return ep.api


def _render_route(
    batch: AlertBatch, route: Route, episodes: list[Episode], announced: list[Episode]
) -> RoutedMessage | None:
    """The route's message announcing ``announced``; the rest of ``episodes`` feed the counts."""
    new = list(announced)
    if not new:
        return None
    keys = {e.key for e in new}
    open_count = sum(1 for e in episodes if e.status == "open" and e.key not in keys)
    resolved_count = sum(1 for e in episodes if e.status == "resolved" and e.key not in keys)

    # team -> api -> new episodes
    by_team: dict[str, dict[str, list[Episode]]] = defaultdict(lambda: defaultdict(list))
    for ep in new:
        by_team[ep.team or "(no team)"][_api_key(ep)].append(ep)
    teams = sorted(by_team)
    team_apis = {t: sorted(by_team[t]) for t in teams}
    n_apis = sum(len(v) for v in team_apis.values())

    day = batch.snapshot_date.isoformat()
    header_text = clip(
        f"Replica limit breaches {day}: {_plural(len(new), 'new episode')} on {_plural(n_apis, 'API')}",
        MAX_HEADER_TEXT,
        "…",
    )
    summary = (
        f"*{len(new)}* new · *{open_count}* still open · *{resolved_count}* resolved since the last run"
        f" · {_plural(len(teams), 'team')}: {escape_mrkdwn(', '.join(teams))}"
    )
    links = [_link(batch.docs_url, "dbt docs") if batch.docs_url else None]
    run_label = f"run {batch.run_id}"
    links.append(_link(batch.run_url, run_label) if batch.run_url else f"{escape_mrkdwn(run_label)}")
    footer = " · ".join(x for x in links if x) + f" · DAG {escape_mrkdwn(batch.dag_id)}"

    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": header_text, "emoji": True}},
        _context([summary]),
    ]
    shown, alloc = allocate_sections([len(team_apis[t]) for t in teams], MAX_BLOCKS - _FIXED_BLOCKS)
    in_sections: dict[str, list[str]] = {}
    in_overflow: dict[str, list[str]] = {}
    for team, n_sections in zip(teams[:shown], alloc, strict=True):
        apis = team_apis[team]
        n_eps = sum(len(by_team[team][a]) for a in apis)
        team_line = f"*Team {escape_mrkdwn(team)}*: {_plural(n_eps, 'new episode')}"
        blocks.append(_section(f"{team_line} on {_plural(len(apis), 'API')}"))
        for api in apis[:n_sections]:
            blocks.append(_section(api_section_text(api, by_team[team][api])))
        in_sections[team] = list(apis[:n_sections])
        rest = apis[n_sections:]
        if rest:
            in_overflow[team] = list(rest)
            blocks.append(
                _section(
                    _overflow_text(
                        f"_…and {len(rest)} more in {escape_mrkdwn(team)}_ (too many for one Slack message)",
                        [escape_mrkdwn(a) for a in rest],
                    )
                )
            )
    hidden = teams[shown:]
    if hidden:
        n_hidden_apis = sum(len(team_apis[t]) for t in hidden)
        for t in hidden:
            in_overflow[t] = list(team_apis[t])
        blocks.append(
            _section(
                _overflow_text(
                    f"_…and {_plural(n_hidden_apis, 'more API')} in "
                    f"{_plural(len(hidden), 'other team')}_ (too many for one Slack message)",
                    [f"{escape_mrkdwn(t)} ({len(team_apis[t])})" for t in hidden],
                )
            )
        )
    blocks.append(_context([footer]))
    if len(blocks) > MAX_BLOCKS:  # pragma: no cover - allocate_sections guarantees this
        raise RuntimeError(f"rendered {len(blocks)} blocks, Slack allows {MAX_BLOCKS}")

    fallback = clip(
        f"Replica ledger {day}: {_plural(len(new), 'new breach episode')} on {_plural(n_apis, 'API')} "
        f"({', '.join(teams)}); {open_count} still open, {resolved_count} resolved since the last run."
    )
    return RoutedMessage(
        route=route,
        teams=teams,
        snapshot_date=batch.snapshot_date,
        run_id=batch.run_id,
        dag_id=batch.dag_id,
        payload={"text": fallback, "blocks": blocks},
        new_count=len(new),
        open_count=open_count,
        resolved_count=resolved_count,
        apis_in_sections=in_sections,
        apis_in_overflow=in_overflow,
        announced=new,
        batch=batch,
        episodes=list(episodes),
    )


def render_messages(batch: AlertBatch, routes: Routes, announce: list[Episode] | None = None) -> list[RoutedMessage]:
    """One message per route that has at least one episode to announce in ``batch``.

    ``announce`` is what to announce (default: the NEW episodes of the batch); the other
    episodes of the route (open, resolved) only feed its counts. A route with nothing to
    announce gets no message. Messages are ordered by route key.
    """
    if announce is None:
        announce = [ep for ep in batch.episodes if ep.status == "new"]
    announce_keys = {ep.key for ep in announce}
    by_route: dict[Route, list[Episode]] = defaultdict(list)
    for ep in batch.episodes:
        by_route[routes.for_team(ep.team)].append(ep)
    out = []
    for route in sorted(by_route, key=lambda r: r.key):
        episodes = by_route[route]
        msg = _render_route(batch, route, episodes, [ep for ep in episodes if ep.key in announce_keys])
        if msg is not None:
            out.append(msg)
    return out


# --------------------------------------------------------------------------------------------
# Plain text


_LINK_RE = re.compile(r"<([^|<>]+)\|([^<>]+)>")


def _plain(mrkdwn: str) -> str:
    text = _LINK_RE.sub(lambda m: f"{m.group(2)} ({m.group(1)})", mrkdwn)
    text = re.sub(r"\*([^*\n]+)\*", r"\1", text)
    text = re.sub(r"(?<!\w)_([^_\n]+)_(?!\w)", r"\1", text)
    text = text.replace("`", "")
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _block_text(block: dict[str, Any]) -> str:
    kind = block.get("type")
    if kind == "header":
        title = block["text"]["text"]
        return f"{title}\n{'=' * min(len(title), 80)}"
    if kind == "section":
        parts = [_plain(block["text"]["text"])] if block.get("text") else []
        for f in block.get("fields", []):
            parts.append(_plain(f.get("text", "")))
        return "\n".join(parts)
    if kind == "context":
        return "  ".join(_plain(e.get("text", "")) for e in block.get("elements", []) if "text" in e)
    if kind == "divider":
        return "-" * 40
    return json.dumps(block, sort_keys=True)


def render_text(payload: dict[str, Any] | RoutedMessage) -> str:
    """A readable plain-text rendering of a Slack payload (for the outbox ``.txt``)."""
    if isinstance(payload, RoutedMessage):
        msg = payload
        head = [
            f"route: {msg.route.key} (connection {msg.route.slack_conn_id}"
            + (f", channel {msg.route.channel}" if msg.route.channel else "")
            + ")",
            f"dag: {msg.dag_id}  run: {msg.run_id}  snapshot date: {msg.snapshot_date.isoformat()}",
            "",
        ]
        body = render_text(msg.payload)
        return "\n".join(head) + body
    blocks = payload.get("blocks") or []
    if not blocks:
        return str(payload.get("text", "")) + "\n"
    return "\n\n".join(_block_text(b) for b in blocks) + "\n"
