"""One team statement version as files: statement.html, statement.csv, statement.json.

Rendering only: every number comes from the marts (statements.model), amounts are written
by money.py with the settings' currency, and every text from the data is escaped for where
it goes (`html.escape` for the page; the CSV and JSON writers quote their own). The output
depends on the data alone (no clock, no random ids): rendering the same rows twice gives
the same bytes, which is how a re-run knows it left a written version as it was.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from decimal import Decimal
from html import escape

from replica_ledger.audit.attribution import who_row
from replica_ledger.money import amount_text, money_text
from replica_ledger.statements.chart import COLOURS, ChartData, chart_svg
from replica_ledger.statements.model import Api, TeamStatement, next_month

#: statement.csv's columns (contract §7), in order.
CSV_COLUMNS = (
    "billing_month",
    "team",
    "namespace",
    "deployment",
    "statement_version",
    "billed_max_replicas",
    "cpu",
    "memory_gb",
    "amount",
    "prorated_amount",
    "currency",
    "observed_max_replicas",
    "unapproved_exposure_amount",
    "restatement_reason",
)
FILES = ("statement.csv", "statement.json", "statement.html")
CHANGE_WORDS = {
    "closed": "closed",
    "added": "added since the last version",
    "restated": "restated",
    "unchanged": "unchanged",
    "removed": "no longer on the statement",
}


def number(value) -> str:
    """A quantity as people write it: 2, 0.2, 1.5 (never 2.0 or 1.5000)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    text = f"{exact.normalize():f}"
    return text


def month_name(month: date) -> str:
    return f"{month:%B %Y}"


def formula(line: dict, currency: str) -> str:
    """`180 + (19 x 2 vCPU + 19 x 4 GB) x 6 / 4 = 351.00 EUR`: the charge macro's formula
    with the line's rates and version, and the amount the mart computed."""
    if line["billed_max_replicas"] is None or line["base_fee"] is None:
        return f"no approved version in force in the month = {money_text(line['amount'], currency)}"
    return (
        f"{number(line['base_fee'])} + ({number(line['vcpu_rate'])} x {number(line['cpu'])} vCPU"
        f" + {number(line['memory_rate'])} x {number(line['memory_gb'])} GB)"
        f" x {line['billed_max_replicas']} / {number(line['replica_divisor'])}"
        f" = {money_text(line['amount'], currency)}"
    )


def _money(value, currency: str) -> str:
    return "" if value is None else money_text(value, currency)


def _amount(value) -> str | None:
    return None if value is None else amount_text(value)


def _moment(value: datetime | None) -> str | None:
    if value is None:
        return None
    naive = value if value.tzinfo is None else value.astimezone(None).replace(tzinfo=None)
    return naive.strftime("%Y-%m-%d %H:%M UTC")


def _day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


# --------------------------------------------------------------------------- the chart


def chart_data(statement: TeamStatement, api: Api) -> ChartData:
    month = statement.month
    end = next_month(month)
    start_moment = datetime(month.year, month.month, 1)
    steps = []
    for limit in api.limits:
        valid_from = limit["valid_from"]
        valid_from = valid_from.replace(tzinfo=None) if valid_from.tzinfo is None else valid_from.astimezone(None)
        steps.append((max(valid_from.replace(tzinfo=None), start_moment), limit["max_replicas"]))
        valid_to = limit["valid_to"]
        if valid_to is not None:
            valid_to = valid_to.replace(tzinfo=None) if valid_to.tzinfo is None else valid_to.astimezone(None)
            following = [other for other in api.limits if other["valid_from"] == limit["valid_to"]]
            if not following and valid_to.replace(tzinfo=None) < datetime(end.year, end.month, 1):
                steps.append((valid_to.replace(tzinfo=None), None))
    return ChartData(
        month_start=month,
        days_in_month=(end - month).days,
        days=tuple(row["snapshot_date"] for row in api.days),
        desired=tuple(row["desired_replicas"] for row in api.days),
        hpa_max=tuple(row["hpa_max_replicas"] for row in api.days),
        peak=tuple(row["peak_replicas"] for row in api.days),
        breach_days=tuple(row["snapshot_date"] for row in api.days if row["is_breach_day"]),
        approved_steps=tuple(steps),
    )


def chart_description(statement: TeamStatement, api: Api) -> str:
    """The chart's alt text: what it shows, the approved max's steps and the breach days."""
    steps = (
        ", then ".join(f"{limit['max_replicas']} from {_moment(limit['valid_from'])}" for limit in api.limits)
        or "no approved version"
    )
    breach_days = [row["snapshot_date"].day for row in api.days if row["is_breach_day"]]
    breaches = f"breach days: {', '.join(map(str, breach_days))}" if breach_days else "no breach day"
    return (
        f"Daily desired replicas, HPA max and intra-day peak of {api.name} in {month_name(statement.month)},"
        f" against the approved max ({steps}); {breaches}."
    )


# --------------------------------------------------------------------------- CSV and JSON


def csv_rows(statement: TeamStatement, currency: str) -> list[dict]:
    return [
        {
            "billing_month": statement.month.isoformat(),
            "team": statement.team,
            "namespace": line["namespace"],
            "deployment": line["deployment"],
            "statement_version": line["statement_version"],
            "billed_max_replicas": line["billed_max_replicas"],
            "cpu": number(line["cpu"]),
            "memory_gb": number(line["memory_gb"]),
            "amount": amount_text(line["amount"]),
            "prorated_amount": _amount(line["prorated_amount"]),
            "currency": currency,
            "observed_max_replicas": line["observed_max_replicas"],
            "unapproved_exposure_amount": _amount(line["unapproved_exposure_amount"]),
            "restatement_reason": line["restatement_reason"],
        }
        for line in statement.billed_lines
    ]


def render_csv(statement: TeamStatement, currency: str) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(csv_rows(statement, currency))
    return buffer.getvalue()


def _episode(episode: dict, audit_source_on: bool) -> dict:
    cluster, _api, breach, started, who, tool, edited_at, change, approved, ped_that_day = who_row(
        episode, audit_source_on
    )
    return {
        "cluster": cluster,
        "breach_type": breach,
        "started_on": _day(started),
        "last_seen_on": _day(episode["last_seen_on"]),
        "ended_on": _day(episode["ended_on"]),
        "breach_days": episode["breach_days"],
        "max_observed_value": episode["max_observed_value"],
        "approved_max_replicas": approved,
        "who": who,
        "tool": tool,
        "edited_at": edited_at,
        "change": change,
        "ped_that_day": ped_that_day,
    }


def document(statement: TeamStatement, currency: str, audit_source_on: bool = True) -> dict:
    """statement.json: the CSV's lines, plus what the HTML shows."""
    header = statement.header
    lines = []
    for row, line in zip(csv_rows(statement, currency), statement.billed_lines, strict=True):
        lines.append(
            {
                **row,
                "team_version": statement.version,
                "change_kind": line["change_kind"],
                "previous_amount": _amount(line["previous_amount"]),
                "billed_change_id": line["billed_change_id"],
                "formula": formula(line, currency),
                "breach_episodes": line["breach_episodes"],
            }
        )
    apis = []
    for api in statement.apis.values():
        chart = chart_data(statement, api)
        apis.append(
            {
                "api": api.name,
                "ped_versions": [
                    {
                        "change_id": limit["change_id"],
                        "max_replicas": limit["max_replicas"],
                        "min_replicas": limit["min_replicas"],
                        "cpu": number(limit["cpu"]),
                        "memory_gb": number(limit["memory_gb"]),
                        "valid_from": _moment(limit["valid_from"]),
                        "valid_to": _moment(limit["valid_to"]),
                        "changed_by": limit["changed_by"],
                    }
                    for limit in api.limits
                ],
                "breach_episodes": [_episode(episode, audit_source_on) for episode in api.episodes],
                "chart": {
                    "days": [day.isoformat() for day in chart.days],
                    "desired_replicas": list(chart.desired),
                    "hpa_max_replicas": list(chart.hpa_max),
                    "peak_replicas": list(chart.peak),
                    "approved_max_steps": [[_moment(moment), value] for moment, value in chart.approved_steps],
                    "breach_days": [day.isoformat() for day in chart.breach_days],
                },
            }
        )
    return {
        "billing_month": statement.month.isoformat(),
        "team": statement.team,
        "team_version": statement.version,
        "is_restatement": bool(header["is_restatement"]),
        "currency": currency,
        "total_amount": amount_text(header["total_amount"]),
        "total_exposure_amount": amount_text(header["total_exposure_amount"]),
        "previous_version_total": _amount(header["previous_version_total"]),
        "previous_month_total": _amount(header["previous_month_total"]),
        "api_count": header["api_count"],
        "breach_episodes": header["breach_episodes"],
        "lines": lines,
        "removed_lines": [
            {
                "namespace": line["namespace"],
                "deployment": line["deployment"],
                "previous_amount": _amount(line["previous_amount"]),
            }
            for line in statement.removed_lines
        ],
        "apis": apis,
    }


def render_json(statement: TeamStatement, currency: str, audit_source_on: bool = True) -> str:
    return json.dumps(document(statement, currency, audit_source_on), indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- HTML

_CSS = """
@page { size: A4; margin: 14mm 12mm; }
body { font-family: "DejaVu Sans", "Liberation Sans", Arial, sans-serif; font-size: 10pt; color: #222;
       max-width: 190mm; margin: 0 auto; }
h1 { font-size: 15pt; margin: 0 0 2mm; } h2 { font-size: 12pt; margin: 6mm 0 2mm; }
h3 { font-size: 11pt; margin: 5mm 0 1mm; }
table { border-collapse: collapse; width: 100%; margin: 1mm 0 3mm; font-size: 9pt; }
th, td { border-bottom: 1px solid #ddd; padding: 1mm 1.5mm; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; white-space: nowrap; }
.restated { background: #fff4e5; border-left: 3px solid #ff7f0e; padding: 2mm 3mm; margin: 3mm 0; }
.formula { font-family: "DejaVu Sans Mono", monospace; font-size: 9pt; }
figure { margin: 2mm 0 4mm; break-inside: avoid; } figure svg { width: 100%; height: auto; }
figcaption { font-size: 8.5pt; color: #555; }
.legend span { display: inline-block; margin-right: 4mm; font-size: 8.5pt; }
.legend i { display: inline-block; width: 6mm; height: 0; border-top: 2px solid; vertical-align: middle;
            margin-right: 1mm; }
section.api { break-inside: avoid-page; }
"""


def _e(value) -> str:
    return "" if value is None else escape(str(value), quote=True)


def _table(headers: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th{' class=num' if i in numeric else ''}>{_e(h)}</th>" for i, h in enumerate(headers))
    body = "".join(
        "<tr>"
        + "".join(f"<td{' class=num' if i in numeric else ''}>{cell}</td>" for i, cell in enumerate(row))
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _legend() -> str:
    items = [
        ("desired", "desired replicas (daily)"),
        ("hpa_max", "HPA max (daily)"),
        ("peak", "intra-day peak"),
        ("approved", "approved max (steps at each PED change)"),
        ("breach", "breach day (x)"),
    ]
    return (
        '<p class="legend">'
        + "".join(f'<span><i style="border-color:{COLOURS[key]}"></i>{_e(text)}</span>' for key, text in items)
        + "</p>"
    )


def _change_section(statement: TeamStatement, currency: str) -> str:
    header = statement.header
    if not header["is_restatement"]:
        return ""
    changed = [line for line in statement.lines if line["change_kind"] in ("added", "restated", "removed")]
    rows = [
        [
            _e(f"{line['namespace']}/{line['deployment']}"),
            _e(CHANGE_WORDS[line["change_kind"]]),
            _e(_money(line["previous_amount"], currency) or "-"),
            _e(_money(line["amount"], currency) or "-"),
            _e(line["restatement_reason"] or ""),
        ]
        for line in changed
    ]
    return (
        f'<div class="restated"><h2>What changed since version {statement.version - 1}</h2>'
        f"<p>Total {_e(_money(header['previous_version_total'], currency))} in version {statement.version - 1},"
        f" {_e(_money(header['total_amount'], currency))} now.</p>"
        + _table(["API", "change", "before", "now", "why"], rows, {2, 3})
        + "</div>"
    )


def _api_section(statement: TeamStatement, line: dict, currency: str, audit_source_on: bool) -> str:
    api = statement.apis[(line["namespace"], line["deployment"])]
    limits = _table(
        ["PED change", "max", "min", "vCPU", "GB", "in force from", "until", "approved by"],
        [
            [
                _e(limit["change_id"]),
                _e(limit["max_replicas"]),
                _e(limit["min_replicas"]),
                _e(number(limit["cpu"])),
                _e(number(limit["memory_gb"])),
                _e(_moment(limit["valid_from"])),
                _e(_moment(limit["valid_to"]) or "-"),
                _e(limit["changed_by"]),
            ]
            for limit in api.limits
        ],
        {1, 2, 3, 4},
    )
    episodes = [_episode(episode, audit_source_on) for episode in api.episodes]
    episode_table = (
        _table(
            ["breach", "cluster", "days", "first", "last seen", "max seen", "approved", "who crossed the limit"],
            [
                [
                    _e(ep["breach_type"]),
                    _e(ep["cluster"]),
                    _e(ep["breach_days"]),
                    _e(ep["started_on"]),
                    _e(ep["last_seen_on"]),
                    _e(ep["max_observed_value"]),
                    _e(ep["approved_max_replicas"] if ep["approved_max_replicas"] is not None else "-"),
                    _e(
                        " ".join(
                            part
                            for part in (
                                ep["who"],
                                f"with {ep['tool']}" if ep["tool"] else None,
                                f"at {ep['edited_at']}" if ep["edited_at"] else None,
                                f"({ep['change']})" if ep["change"] else None,
                                f"PED that day: {ep['ped_that_day']}" if ep["ped_that_day"] else None,
                            )
                            if part
                        )
                    ),
                ]
                for ep in episodes
            ],
            {2, 5, 6},
        )
        if episodes
        else "<p>No breach episode this month.</p>"
    )
    title = f"{api.name}, {month_name(statement.month)}"
    svg = chart_svg(chart_data(statement, api), title, chart_description(statement, api))
    exposure = line["unapproved_exposure_amount"]
    return (
        f'<section class="api" id="{_e(api.name)}"><h3>{_e(api.name)}</h3>'
        f'<p class="formula" data-amount="{_e(amount_text(line["amount"]))}">{_e(formula(line, currency))}</p>'
        f"<p>Billed max {_e(line['billed_max_replicas'] if line['billed_max_replicas'] is not None else '-')}"
        f" (PED change {_e(line['billed_change_id'] or '-')}); prorated by day"
        f" {_e(_money(line['prorated_amount'], currency) or '-')}; observed max"
        f" {_e(line['observed_max_replicas'] if line['observed_max_replicas'] is not None else '-')}, exposure"
        f" {_e(_money(exposure, currency) or '-')} (what the observed max would add if it were billed).</p>"
        + (f"<p>Restated: {_e(line['restatement_reason'])}</p>" if line["restatement_reason"] else "")
        + f"<h4>PED versions in force</h4>{limits}<h4>Breach episodes</h4>{episode_table}"
        + f'<figure aria-label="{_e(title)}">{svg}<figcaption>{_e(chart_description(statement, api))}'
        + "</figcaption></figure></section>"
    )


def _summary_row(line: dict, currency: str) -> list[str]:
    name = _e(f"{line['namespace']}/{line['deployment']}")
    return [
        f'<a href="#{name}">{name}</a>',
        _e(line["billed_max_replicas"] if line["billed_max_replicas"] is not None else "-"),
        f'<span class="amount" data-api="{name}">{_e(money_text(line["amount"], currency))}</span>',
        _e(_money(line["prorated_amount"], currency) or "-"),
        _e(line["observed_max_replicas"] if line["observed_max_replicas"] is not None else "-"),
        _e(_money(line["unapproved_exposure_amount"], currency) or "-"),
        _e(line["breach_episodes"]),
        _e(CHANGE_WORDS[line["change_kind"]]),
    ]


def render_html(statement: TeamStatement, currency: str, audit_source_on: bool = True) -> str:
    header = statement.header
    title = f"Replica statement: {statement.team}, {month_name(statement.month)}, version {statement.version}"
    previous_month = header["previous_month_total"]
    change = (
        f"{_money(previous_month, currency)} last month" if previous_month is not None else "no statement last month"
    )
    summary_rows = [_summary_row(line, currency) for line in statement.billed_lines]
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{_CSS}</style></head><body>"
        f"<h1>{_e(title)}</h1>"
        f"<p>Team <strong>{_e(statement.team)}</strong>, {_e(month_name(statement.month))}:"
        f' <strong class="total" data-amount="{_e(amount_text(header["total_amount"]))}">'
        f"{_e(money_text(header['total_amount'], currency))}</strong> for {_e(header['api_count'])} API(s)"
        f" ({_e(change)}); {_e(header['breach_episodes'])} breach episode(s) in the month; exposure"
        f" {_e(money_text(header['total_exposure_amount'], currency))}. Amounts in {_e(currency)}; each API is"
        " billed for the highest approved version in force in the month.</p>"
        + _change_section(statement, currency)
        + "<h2>Bill</h2>"
        + _table(
            ["API", "billed max", "amount", "prorated", "observed max", "exposure", "breach episodes", "line"],
            summary_rows,
            {1, 2, 3, 4, 5, 6},
        )
        + "<h2>Each API</h2>"
        + _legend()
        + "".join(_api_section(statement, line, currency, audit_source_on) for line in statement.billed_lines)
        + "</body></html>\n"
    )


def render_files(statement: TeamStatement, currency: str, audit_source_on: bool = True) -> dict[str, bytes]:
    """File name -> bytes, in the order they are written (the HTML last: its presence says
    the version is complete)."""
    return {
        "statement.csv": render_csv(statement, currency).encode("utf-8"),
        "statement.json": render_json(statement, currency, audit_source_on).encode("utf-8"),
        "statement.html": render_html(statement, currency, audit_source_on).encode("utf-8"),
    }
