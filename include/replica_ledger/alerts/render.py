"""One run's breach episodes as Slack messages: one message per route, each announcing the
episodes that route has not heard of.

What the messages say lives here; Slack's limits and how a long report is fitted into one
message live in ``budget.py``, the Block Kit blocks in ``blocks.py``, the plain-text
rendering in ``text.py``. No API is ever dropped silently: ``RoutedMessage.accounted_apis``
says where each API went (its own section, or an overflow section naming or counting it).
"""

from __future__ import annotations

import hashlib
import json
import shlex
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from replica_ledger.alerts.blocks import (
    context_block,
    header_block,
    link,
    message_payload,
    section_block,
)
from replica_ledger.alerts.budget import MAX_BLOCKS, allocate_sections, fit_lines, name_list
from replica_ledger.alerts.model import (
    ATTRIBUTED_BREACH_TYPES,
    BREACH_TYPE_WORDS,
    BREACH_TYPES,
    HPA_MAX_OVER_LIMIT,
    INTRADAY_OVER_LIMIT,
    REPLICAS_OVER_LIMIT,
    UNREGISTERED_DEPLOYMENT,
    AlertBatch,
    Crossing,
    Episode,
)
from replica_ledger.alerts.routes import Route, Routes, safe_filename
from replica_ledger.money import money_text
from replica_ledger.safe_text import for_slack, one_line

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
    #: team -> its user group mention (``<!subteam^ID>``, validated by ``routes``).
    mentions: dict[str, str] = field(default_factory=dict, repr=False, compare=False)

    def narrowed(self, keys: set) -> RoutedMessage | None:
        """The same message announcing only the episodes whose :attr:`Episode.key` is in ``keys``."""
        if self.batch is None:
            raise ValueError("this message cannot be re-rendered (no batch)")
        keep = [ep for ep in self.announced if ep.key in keys]
        return _render_route(self.batch, self.route, self.episodes, keep, self.mentions)

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
# Wording


def _plural(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def episode_line(ep: Episode, currency: str = AlertBatch.currency) -> str:
    """One mrkdwn bullet describing one announced episode of an API.

    The cost is the one dbt computed (fct_breach_alerts.excess_monthly_cost, the billing
    formula), written with its currency (money.money_text).
    """
    what = BREACH_TYPE_WORDS[ep.breach_type]
    where = f"on `{for_slack(ep.cluster)}`"
    since = f"since {ep.started_on.isoformat()}{_late_note(ep)}"
    if ep.breach_type == UNREGISTERED_DEPLOYMENT:
        return (
            f"• *{what}* {where}: {_plural(int(ep.observed_value), 'replica')}, "
            f"not registered in PED (no approved max, no cost estimate), {since}."
        )
    excess = ep.excess_replicas
    line = (
        f"• *{what}* {where}: {_observed_label(ep)} {ep.observed_value} vs approved max "
        f"{ep.approved_max_replicas} (+{excess}), {since}."
    )
    cost = ep.excess_monthly_cost
    if cost is None:
        line += " Excess cost unknown (no cpu/memory on record)."
    else:
        line += f" Excess ≈ {money_text(cost, currency)} a month."
    return line


def _observed_label(ep: Episode) -> str:
    if ep.breach_type == HPA_MAX_OVER_LIMIT:
        return "HPA maxReplicas"
    if ep.breach_type == INTRADAY_OVER_LIMIT:
        return "the day's snapshot was within the limit, but the audit log shows a peak of"
    return "desired replicas"


_FIELD_WORDS = {"max_replicas": "HPA max", "replicas": "replicas"}


def attribution_line(ep: Episode, batch: AlertBatch) -> str | None:
    """Who crossed the limit of an HPA max or intra-day episode.

    Says so when the audit log is off or shows no edit that crossed it; None for the
    other breach types (their PED page is on their action line, :func:`action_line`).
    """
    if ep.breach_type not in ATTRIBUTED_BREACH_TYPES:
        return None
    if not batch.audit_source_on:
        who = "Who: unknown, the audit log is off (no audit source configured)."
    elif ep.crossing is None:
        who = "Who: no audited edit by a person or a pipeline took it above the limit."
    else:
        who = _crossing_text(ep.crossing)
    return f"    ↳ {who}"


def code_span(text: str) -> str:
    """``text`` as a mrkdwn code span it cannot leave: on one line (a line break would end
    it), a backtick replaced by its look-alike U+02CB (mrkdwn has no escape for one), and
    ``&``, ``<``, ``>`` as entities (Slack reads them even in code, and shows and copies
    them as the characters). Every other character is kept, so the text a person copies
    from Slack is the text given here."""
    body = one_line(text).replace("`", "\u02cb").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"`{body}`"


def kubectl_hpa_back(ep: Episode) -> str | None:
    """The shell command that puts the episode's HPA max back to the approved max, every
    value from the data quoted for a POSIX shell (shlex); None without an HPA name or a max.
    The cluster is the kubectl context (the ledger names a cluster as its context does)."""
    if not ep.hpa_name or ep.approved_max_replicas is None:
        return None
    patch = json.dumps({"spec": {"maxReplicas": int(ep.approved_max_replicas)}}, separators=(",", ":"))
    return shlex.join(
        [
            "kubectl",
            "--context",
            ep.cluster,
            "--namespace",
            ep.namespace,
            "patch",
            "hpa",
            ep.hpa_name,
            "--type=merge",
            "--patch",
            patch,
        ]
    )


def _ped(ep: Episode, batch: AlertBatch) -> str:
    """The API's PED page as a link, or its name when no URL template is set."""
    url = batch.ped_url(ep)
    return link(url, f"PED: {ep.api}") if url else f"PED ({for_slack(ep.api)})"


def action_line(ep: Episode, batch: AlertBatch) -> str | None:
    """What the owning team does about the episode, in one line; None once it is resolved.

    PED fixes a limit that is too low (raise it) and an API it does not know (register
    it); an HPA max raised outside PED is put back with the exact kubectl command (or the
    limit raised through PED); a peak between snapshots is kept within what fits."""
    if ep.status == "resolved":
        return None
    approved = ep.approved_max_replicas
    if ep.breach_type == UNREGISTERED_DEPLOYMENT:
        todo = f"register the API in {_ped(ep, batch)} (or remove the Deployment)."
    elif ep.breach_type == REPLICAS_OVER_LIMIT:
        todo = f"raise the approved max above {approved} through {_ped(ep, batch)}, or scale back to {approved}."
    elif ep.breach_type == HPA_MAX_OVER_LIMIT:
        command = kubectl_hpa_back(ep)
        if command is None:
            back = f"put the HPA of `{for_slack(ep.deployment)}` back to max {approved} (no HPA name in the snapshot)"
        else:
            back = f"put the HPA back to max {approved}: {code_span(command)}"
        todo = f"{back}; or raise the limit through {_ped(ep, batch)}."
    else:  # INTRADAY_OVER_LIMIT
        todo = (
            f"keep the HPA max and the replicas at or below {approved} (what fits the approved max);"
            f" to go above it, raise the limit through {_ped(ep, batch)} first."
        )
    return f"    → *What to do:* {todo}"


def _crossing_text(crossing: Crossing) -> str:
    what = _FIELD_WORDS.get(crossing.field) or for_slack(crossing.field)
    before = "?" if crossing.from_value is None else str(crossing.from_value)
    applied = crossing.changed_at
    return (
        f"Crossed by *{for_slack(crossing.principal)}* ({for_slack(crossing.tool)}) at "
        f"{applied:%Y-%m-%d %H:%M} UTC: {what} {before} → {crossing.to_value}. {_approval_text(crossing)}"
    )


def _approval_text(crossing: Crossing) -> str:
    """Whether PED approved a change of the API the day of the edit (UTC), and when."""
    approved_at, approved_max = crossing.ped_approved_at, crossing.ped_approved_max_replicas
    if approved_at is None:
        return "No PED change approved that day."
    applied = f"{crossing.changed_at:%H:%M}"
    approved = f"PED approved max {approved_max} at {approved_at:%H:%M}"
    if not crossing.approved_before:
        return f"Applied at {applied}, before {approved} the same day."
    if approved_max is not None and approved_max < crossing.to_value:
        return f"{approved}, below the {crossing.to_value} applied at {applied}."
    return f"{approved}, applied at {applied}: deploy lag, not a bypass."


def _late_note(ep: Episode) -> str:
    """Why an episode is announced after its first day: its start became known late."""
    if ep.status == "open":
        return " (reported late: its first day's snapshot arrived after that day's alert)"
    if ep.status == "resolved":
        return " (reported late, already resolved)"
    return ""


def api_section_text(api: str, episodes: list[Episode], batch: AlertBatch | None = None) -> str:
    """The API's name and one line per episode (breach type order, then cluster), each with
    who crossed the limit when its type says it (``batch``: audit source, PED link),
    fitted to one field."""
    order = {bt: i for i, bt in enumerate(BREACH_TYPES)}
    eps = sorted(episodes, key=lambda e: (order[e.breach_type], e.cluster))
    lines = [f"*{for_slack(api)}*"]
    for e in eps:
        lines.append(episode_line(e, batch.currency if batch is not None else AlertBatch.currency))
        if batch is None:
            continue
        lines += [line for line in (attribution_line(e, batch), action_line(e, batch)) if line]
    return fit_lines(lines)


def _header_text(day: str, n_new: int, n_apis: int) -> str:
    return f"Replica limit breaches {day}: {_plural(n_new, 'new episode')} on {_plural(n_apis, 'API')}"


def _summary_text(n_new: int, open_count: int, resolved_count: int, teams: list[str]) -> str:
    return (
        f"*{n_new}* new · *{open_count}* still open · *{resolved_count}* resolved since the last run"
        f" · {_plural(len(teams), 'team')}: {', '.join(for_slack(t) for t in teams)}"
    )


def _footer_text(batch: AlertBatch) -> str:
    """Links to the dbt docs and the run, and the DAG: the block that differs between runs."""
    run_label = f"run {batch.run_id}"
    links = [link(batch.docs_url, "dbt docs")] if batch.docs_url else []
    links.append(link(batch.run_url, run_label) if batch.run_url else for_slack(run_label))
    return " · ".join(links) + f" · DAG {for_slack(batch.dag_id)}"


def _fallback_text(day: str, n_new: int, n_apis: int, teams: list[str], open_count: int, resolved_count: int) -> str:
    return (
        f"Replica ledger {day}: {_plural(n_new, 'new breach episode')} on {_plural(n_apis, 'API')} "
        f"({', '.join(for_slack(t) for t in teams)}); {open_count} still open, "
        f"{resolved_count} resolved since the last run."
    )


# --------------------------------------------------------------------------------------------
# Messages


@dataclass
class _TeamBlocks:
    """The body of a message: team headers, API sections and overflow sections."""

    blocks: list[dict[str, Any]] = field(default_factory=list)
    in_sections: dict[str, list[str]] = field(default_factory=dict)
    in_overflow: dict[str, list[str]] = field(default_factory=dict)


def _team_blocks(
    by_team: dict[str, dict[str, list[Episode]]], budget: int, batch: AlertBatch, mentions: dict[str, str]
) -> _TeamBlocks:
    """Every team's APIs in at most ``budget`` blocks: sections for those that fit, named
    (or counted) in an overflow section for the others. A team with a user group in
    ``mentions`` is mentioned on its header line."""
    teams = sorted(by_team)
    team_apis = {t: sorted(by_team[t]) for t in teams}
    shown, alloc = allocate_sections([len(team_apis[t]) for t in teams], budget)
    out = _TeamBlocks()
    for team, n_sections in zip(teams[:shown], alloc, strict=True):
        apis = team_apis[team]
        n_eps = sum(len(by_team[team][a]) for a in apis)
        mention = f" {mentions[team]}" if team in mentions else ""
        team_line = f"*Team {for_slack(team)}*{mention}: {_plural(n_eps, 'new episode')}"
        out.blocks.append(section_block(f"{team_line} on {_plural(len(apis), 'API')}"))
        out.blocks += [section_block(api_section_text(api, by_team[team][api], batch)) for api in apis[:n_sections]]
        out.in_sections[team] = list(apis[:n_sections])
        rest = apis[n_sections:]
        if rest:
            out.in_overflow[team] = list(rest)
            prefix = f"_…and {len(rest)} more in {for_slack(team)}_ (too many for one Slack message)"
            out.blocks.append(section_block(name_list(prefix, [for_slack(a) for a in rest])))
    hidden = teams[shown:]
    if hidden:
        n_hidden_apis = sum(len(team_apis[t]) for t in hidden)
        out.in_overflow.update({t: list(team_apis[t]) for t in hidden})
        prefix = (
            f"_…and {_plural(n_hidden_apis, 'more API')} in "
            f"{_plural(len(hidden), 'other team')}_ (too many for one Slack message)"
        )
        named = [f"{for_slack(t)} ({len(team_apis[t])})" for t in hidden]
        out.blocks.append(section_block(name_list(prefix, named)))
    return out


def _render_route(
    batch: AlertBatch,
    route: Route,
    episodes: list[Episode],
    announced: list[Episode],
    mentions: dict[str, str] | None = None,
) -> RoutedMessage | None:
    """The route's message announcing ``announced``; the rest of ``episodes`` feed the counts."""
    new = list(announced)
    if not new:
        return None
    keys = {e.key for e in new}
    open_count = sum(1 for e in episodes if e.status == "open" and e.key not in keys)
    resolved_count = sum(1 for e in episodes if e.status == "resolved" and e.key not in keys)

    by_team: dict[str, dict[str, list[Episode]]] = defaultdict(lambda: defaultdict(list))
    for ep in new:
        by_team[ep.team or "(no team)"][ep.api].append(ep)
    teams = sorted(by_team)
    n_apis = sum(len(apis) for apis in by_team.values())

    day = batch.snapshot_date.isoformat()
    mentions = mentions or {}
    body = _team_blocks(by_team, MAX_BLOCKS - _FIXED_BLOCKS, batch, mentions)
    blocks = [
        header_block(_header_text(day, len(new), n_apis)),
        context_block([_summary_text(len(new), open_count, resolved_count, teams)]),
        *body.blocks,
        context_block([_footer_text(batch)]),
    ]
    return RoutedMessage(
        route=route,
        teams=teams,
        snapshot_date=batch.snapshot_date,
        run_id=batch.run_id,
        dag_id=batch.dag_id,
        payload=message_payload(_fallback_text(day, len(new), n_apis, teams, open_count, resolved_count), blocks),
        new_count=len(new),
        open_count=open_count,
        resolved_count=resolved_count,
        apis_in_sections=body.in_sections,
        apis_in_overflow=body.in_overflow,
        announced=new,
        batch=batch,
        episodes=list(episodes),
        mentions=mentions,
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
        mentions = {ep.team: m for ep in episodes if (m := routes.mention_for(ep.team))}
        msg = _render_route(batch, route, episodes, [ep for ep in episodes if ep.key in announce_keys], mentions)
        if msg is not None:
            out.append(msg)
    return out
