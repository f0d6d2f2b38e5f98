"""A synthetic platform for benchmarks: N APIs over D days, in the archive's own format.

    python -m tooling.synthetic_fleet OUTPUT_DIR --apis 2000 --days 30 [--seed 7]

writes `OUTPUT_DIR/archive/dt=YYYY-MM-DD/<cluster>.json` + `.meta.json` (contract §1.1, built
with k8s_objects like the demo) and `OUTPUT_DIR/ped_limit_changes.jsonl` (§1.2).

What the fleet does, deterministically from the seed (no `random` per object: a hash of
(seed, keys) gives each draw, so any day can be generated alone and in any order):
- every API has a Deployment and an autoscaling/v2 HPA on one of the clusters; the HPA's
  desired count follows a weekly load curve with noise between min and the HPA's max;
- some APIs get a PED change (a raise or a lower of max, with a new version of cpu/memory);
  on half of the raises the team raises the HPA a day before PED approves it;
- some HPAs are edited by hand above the approved max for a few days (hpa_max_over_limit,
  and replicas_over_limit when the load pushes past the limit);
- rolling updates on random days (surge pods, new generation): never breaches;
- a few unregistered Deployments, a few APIs decommissioned by a PED delete (the
  Deployment disappears the same day), a few quarantined PED rows;
- missing snapshot days per cluster (gaps), never on the first day;
- out-of-scope kube-system objects on every cluster.

`raw_rows` yields the same days straight as raw warehouse rows (what `load_day` would
insert), so a year of 2,000 APIs can be loaded without writing and parsing 730k objects;
a test checks both paths agree.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from tooling.k8s_objects import capture_time, deployment_object, hpa_object, kubectl_list

_MASK = (1 << 64) - 1
CAPTURE_MINUTE = 4
SYSTEM_DEPLOYMENTS = ("kube-dns", "metrics-server")


def _unit(seed: int, *keys: int) -> float:
    """A uniform draw in [0, 1) from (seed, keys): splitmix64-style mixing, cheap and stable."""
    value = (seed * 0x9E3779B97F4A7C15) & _MASK
    for key in keys:
        value = ((value ^ (key & _MASK)) * 0xBF58476D1CE4E5B9) & _MASK
        value ^= value >> 31
        value = (value * 0x94D049BB133111EB) & _MASK
        value ^= value >> 29
    return value / 2.0**64


@dataclass(frozen=True)
class FleetSpec:
    apis: int = 200
    days: int = 30
    start: date = date(2026, 1, 1)
    seed: int = 7
    clusters: int = 0  # 0: one cluster per 500 APIs, at least 2
    gap_rate: float = 0.02  # chance a cluster has no snapshot on a day
    limit_change_rate: float = 0.15  # share of APIs with a PED change in the period
    hand_edit_rate: float = 0.03  # share of APIs whose HPA is edited outside PED
    rollout_rate: float = 0.05  # chance an API is mid-rollout at capture time
    unregistered_rate: float = 0.01
    decommission_rate: float = 0.01
    quarantined_rows_per_1000: int = 5

    @property
    def cluster_count(self) -> int:
        return self.clusters or max(2, math.ceil(self.apis / 500))

    @property
    def cluster_names(self) -> list[str]:
        return [f"gke-bench-{index:02d}" for index in range(self.cluster_count)]

    def day(self, offset: int) -> date:
        return self.start + timedelta(days=offset)


@dataclass(frozen=True)
class ApiPlan:
    """Everything about one API that does not change from day to day."""

    index: int
    cluster: str
    namespace: str
    name: str
    team: str
    cpu: float
    memory_gb: float
    base_max: int
    registered: bool
    change_day: int | None = None  # PED change effective that day at 09:30 UTC
    changed_max: int | None = None
    changed_memory_gb: float | None = None
    hpa_early: bool = False  # HPA raised the day before PED approves the raise
    hand_edit: tuple[int, int] | None = None  # first and last day of a manual HPA max of 8
    decommission_day: int | None = None
    phase: float = 0.0


@dataclass(frozen=True)
class ApiDay:
    """One API on one day, as the cluster shows it at capture time."""

    plan: ApiPlan
    offset: int
    spec_replicas: int
    hpa_max: int
    hpa_desired: int
    surge: int
    generation: int


@dataclass
class FleetSummary:
    apis: int
    days: int
    clusters: list[str]
    snapshot_files: int = 0
    gaps: list[tuple[str, str]] = field(default_factory=list)
    change_rows: int = 0
    limit_changes: int = 0
    quarantined_rows: int = 0
    hand_edits: int = 0
    rollout_api_days: int = 0
    unregistered_apis: int = 0
    decommissioned_apis: int = 0
    bytes_written: int = 0


def _plan(spec: FleetSpec, index: int) -> ApiPlan:
    draw = lambda slot: _unit(spec.seed, index, slot)  # noqa: E731 - one short local helper
    teams = max(1, spec.apis // 8)
    team = f"team-{index % teams:03d}"
    registered = draw(1) >= spec.unregistered_rate
    namespace = team if registered else "sandbox"
    base_max = 2 + int(draw(2) * 6)  # 2..7: leaves room for a raise within 2..8
    memory = (1, 2, 4, 8)[int(draw(4) * 4)]
    plan = dict(
        index=index,
        cluster=spec.cluster_names[index % spec.cluster_count],
        namespace=namespace,
        name=f"api-{index:05d}",
        team=team,
        cpu=(0.5, 1, 2, 4)[int(draw(3) * 4)],
        memory_gb=memory,
        base_max=base_max,
        registered=registered,
        phase=draw(5) * 7,
    )
    if registered and spec.days > 2 and draw(6) < spec.limit_change_rate:
        raise_it = draw(7) < 0.7 or base_max == 2
        plan.update(
            change_day=1 + int(draw(8) * (spec.days - 1)),
            changed_max=min(8, base_max + 1 + int(draw(9) * 2)) if raise_it else base_max - 1,
            changed_memory_gb=memory if draw(10) < 0.7 else max(1, memory // 2),
            hpa_early=raise_it and draw(11) < 0.5,
        )
    if registered and draw(12) < spec.hand_edit_rate:
        first = int(draw(13) * spec.days)
        plan["hand_edit"] = (first, min(spec.days - 1, first + 1 + int(draw(14) * 6)))
    if registered and "change_day" not in plan and spec.days > 2 and draw(15) < spec.decommission_rate:
        plan["decommission_day"] = 1 + int(draw(16) * (spec.days - 1))
    return ApiPlan(**plan)


def plans(spec: FleetSpec) -> list[ApiPlan]:
    return [_plan(spec, index) for index in range(spec.apis)]


def approved_max(plan: ApiPlan, offset: int) -> int:
    """The limit in force at the capture of day `offset` (just after its midnight)."""
    if plan.change_day is not None and offset >= plan.change_day:
        return plan.changed_max
    return plan.base_max


def _hpa_max(plan: ApiPlan, offset: int) -> int:
    if plan.hand_edit and plan.hand_edit[0] <= offset <= plan.hand_edit[1]:
        return 8
    if plan.hpa_early and offset == plan.change_day - 1:
        return plan.changed_max
    return approved_max(plan, offset) if plan.registered else plan.base_max


def api_day(spec: FleetSpec, plan: ApiPlan, offset: int) -> ApiDay | None:
    """The API's state on day `offset`, or None when it does not exist (decommissioned)."""
    if plan.decommission_day is not None and offset >= plan.decommission_day:
        return None
    hpa_max = _hpa_max(plan, offset)
    # Weekly load curve plus noise; the HPA keeps desired replicas within [2, maxReplicas].
    noise = _unit(spec.seed, plan.index, offset, 1) - 0.5
    load = 0.5 + 0.35 * math.sin(2 * math.pi * (offset + plan.phase) / 7) + 0.3 * noise
    desired = min(hpa_max, max(2, 2 + round(load * (hpa_max - 1))))
    rolling = _unit(spec.seed, plan.index, offset, 2) < spec.rollout_rate
    # Every scale bumps metadata.generation, a rollout once more: it only grows day to day.
    generation = 1 + 2 * offset + (1 if rolling else 0)
    return ApiDay(plan, offset, desired, hpa_max, desired, 1 if rolling else 0, generation)


def is_gap(spec: FleetSpec, cluster_index: int, offset: int) -> bool:
    return offset > 0 and _unit(spec.seed, 10_000_000 + cluster_index, offset) < spec.gap_rate


def cluster_days(spec: FleetSpec, offset: int, api_plans: list[ApiPlan]) -> dict[str, list[ApiDay]]:
    """The states of day `offset` grouped by cluster; a cluster with a gap is left out."""
    by_cluster: dict[str, list[ApiDay]] = {
        name: [] for index, name in enumerate(spec.cluster_names) if not is_gap(spec, index, offset)
    }
    for plan in api_plans:
        if plan.cluster in by_cluster:
            state = api_day(spec, plan, offset)
            if state is not None:
                by_cluster[plan.cluster].append(state)
    return by_cluster


# --------------------------------------------------------------------------- archive files


def _objects(state: ApiDay) -> list[dict]:
    plan = state.plan
    # The pods follow the PED version in force (a lowered memory takes effect on the day).
    changed = plan.change_day is not None and state.offset >= plan.change_day
    memory = plan.changed_memory_gb if changed else plan.memory_gb
    return [
        deployment_object(
            plan.namespace,
            plan.name,
            replicas=state.spec_replicas,
            cpu=plan.cpu,
            memory_gb=memory,
            team=plan.team,
            generation=state.generation,
            rollout_surge=state.surge,
        ),
        hpa_object(
            plan.namespace,
            plan.name,
            target=plan.name,
            min_replicas=2,
            max_replicas=state.hpa_max,
            current=state.spec_replicas,
            desired=state.hpa_desired,
        ),
    ]


def _system_objects() -> list[dict]:
    return [deployment_object("kube-system", name, replicas=2, cpu=0.1, memory_gb=0.1) for name in SYSTEM_DEPLOYMENTS]


def snapshot_document(states: list[ApiDay]) -> dict:
    items: list[dict] = []
    for state in states:
        items += _objects(state)
    return kubectl_list(items + _system_objects())


def write_day(spec: FleetSpec, archive_dir: Path, offset: int, api_plans: list[ApiPlan], summary: FleetSummary) -> None:
    day = spec.day(offset)
    folder = archive_dir / f"dt={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    by_cluster = cluster_days(spec, offset, api_plans)
    for index, cluster in enumerate(spec.cluster_names):
        if cluster not in by_cluster:
            summary.gaps.append((day.isoformat(), cluster))
            continue
        # Compact JSON: the loader does not care, and it keeps a year of files small.
        payload = json.dumps(snapshot_document(by_cluster[cluster]), separators=(",", ":")).encode()
        (folder / f"{cluster}.json").write_bytes(payload)
        meta = {"cluster": cluster, "captured_at": capture_time(day, minute=CAPTURE_MINUTE, second=index)}
        (folder / f"{cluster}.meta.json").write_text(json.dumps(meta) + "\n")
        summary.snapshot_files += 1
        summary.bytes_written += len(payload)
        summary.rollout_api_days += sum(1 for state in by_cluster[cluster] if state.surge)


# --------------------------------------------------------------------------- PED change log


def _at(spec: FleetSpec, offset: int, hour: int, minute: int) -> str:
    moment = datetime.combine(spec.day(offset), time(hour, minute), tzinfo=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _change(change_id: str, plan: ApiPlan, changed_at: str, **fields) -> dict:
    row = {
        "change_id": change_id,
        "namespace": plan.namespace,
        "deployment": plan.name,
        "team": plan.team,
        "min_replicas": 2,
        "changed_at": changed_at,
        "changed_by": "ped-pipeline",
        "action": "upsert",
    }
    row.update(fields)
    return row


def change_rows(spec: FleetSpec, api_plans: list[ApiPlan]) -> list[dict]:
    """Onboarding rows before the period, changes and deletes in it, and a few bad rows."""
    rows: list[dict] = []
    for plan in api_plans:
        if not plan.registered:
            continue
        onboarded = -30 - int(_unit(spec.seed, plan.index, 20) * 300)
        rows.append(
            _change(f"syn-{plan.index}-0", plan, _at(spec, onboarded, 8, 0), max_replicas=plan.base_max,
                    cpu=plan.cpu, memory_gb=plan.memory_gb, reason="onboarding")
        )  # fmt: skip
        if plan.change_day is not None:
            rows.append(
                _change(f"syn-{plan.index}-1", plan, _at(spec, plan.change_day, 9, 30), max_replicas=plan.changed_max,
                        cpu=plan.cpu, memory_gb=plan.changed_memory_gb, reason="capacity review")
            )  # fmt: skip
        if plan.decommission_day is not None:
            # Effective just before the day's capture, so that day's snapshot no longer expects it.
            rows.append(
                _change(f"syn-{plan.index}-9", plan, _at(spec, plan.decommission_day, 0, 1), action="delete",
                        reason="decommissioned")
            )  # fmt: skip
    registered = [plan for plan in api_plans if plan.registered]
    bad = max(1, spec.apis * spec.quarantined_rows_per_1000 // 1000) if registered else 0
    for number in range(bad):
        plan = registered[int(_unit(spec.seed, number, 30) * len(registered))]
        rows.append(
            _change(f"syn-bad-{number}", plan, _at(spec, 0, 12, 0), max_replicas=12, cpu=plan.cpu,
                    memory_gb=plan.memory_gb, reason="asks for more than the platform allows")
        )  # fmt: skip
    # PED rows arrive out of order: sort by a hash, not by time.
    return sorted(rows, key=lambda row: _unit(spec.seed, *row["change_id"].encode()))


def write_change_log(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(row, sort_keys=True) + "\n" for row in rows))


def generate(spec: FleetSpec, output_dir: Path) -> FleetSummary:
    """Write the archive and the change log under output_dir; returns what they contain."""
    api_plans = plans(spec)
    summary = FleetSummary(spec.apis, spec.days, spec.cluster_names)
    archive_dir = output_dir / "archive"
    for offset in range(spec.days):
        write_day(spec, archive_dir, offset, api_plans, summary)
    rows = change_rows(spec, api_plans)
    write_change_log(output_dir / "ped_limit_changes.jsonl", rows)
    _count_plans(summary, api_plans, rows)
    return summary


def _count_plans(summary: FleetSummary, api_plans: list[ApiPlan], rows: list[dict]) -> None:
    summary.change_rows = len(rows)
    summary.limit_changes = sum(1 for plan in api_plans if plan.change_day is not None)
    summary.quarantined_rows = sum(1 for row in rows if row["change_id"].startswith("syn-bad-"))
    summary.hand_edits = sum(1 for plan in api_plans if plan.hand_edit)
    summary.unregistered_apis = sum(1 for plan in api_plans if not plan.registered)
    summary.decommissioned_apis = sum(1 for plan in api_plans if plan.decommission_day is not None)


# --------------------------------------------------------------------------- raw rows


def _deployment_row(state: ApiDay) -> dict:
    """What archive.deployment_row reads from the Deployment object of `state`."""
    plan, replicas = state.plan, state.spec_replicas
    return {
        "namespace": plan.namespace,
        "deployment": plan.name,
        "team_label": plan.team,
        "generation": state.generation,
        "observed_generation": state.generation,
        "spec_replicas": replicas,
        "status_replicas": replicas + state.surge,
        "ready_replicas": replicas,
        "available_replicas": replicas,
        "updated_replicas": replicas if not state.surge else max(1, replicas // 2),
        "unavailable_replicas": state.surge,
        "max_surge": "25%",
    }


def _hpa_row(state: ApiDay) -> dict:
    plan = state.plan
    return {
        "namespace": plan.namespace,
        "hpa": plan.name,
        "api_version": "autoscaling/v2",
        "target_kind": "Deployment",
        "target_name": plan.name,
        "min_replicas": 2,
        "max_replicas": state.hpa_max,
        "current_replicas": state.spec_replicas,
        "desired_replicas": state.hpa_desired,
    }


def _system_rows() -> list[dict]:
    rows = []
    for name in SYSTEM_DEPLOYMENTS:
        state = ApiDay(ApiPlan(-1, "", "kube-system", name, "", 0.1, 0.1, 2, False), 0, 2, 2, 2, 0, 1)
        rows.append({**_deployment_row(state), "team_label": None})
    return rows


def raw_rows(spec: FleetSpec, offset: int, api_plans: list[ApiPlan]) -> dict[str, list[dict]]:
    """Day `offset` as the raw tables' rows (without uid), like load_day would insert them."""
    day = spec.day(offset)
    by_cluster = cluster_days(spec, offset, api_plans)
    rows: dict[str, list[dict]] = {"k8s_deployments": [], "k8s_hpas": [], "snapshot_manifest": []}
    for index, cluster in enumerate(spec.cluster_names):
        states = by_cluster.get(cluster)
        captured = datetime.combine(day + timedelta(days=1), time(0, CAPTURE_MINUTE, index))
        stamp = {"snapshot_date": day, "cluster": cluster, "captured_at": captured}
        if states is None:
            rows["snapshot_manifest"].append({"snapshot_date": day, "cluster": cluster, "status": "missing"})
            continue
        deployments = [{**_deployment_row(state), **stamp} for state in states]
        deployments += [{**row, **stamp} for row in _system_rows()]
        rows["k8s_deployments"] += deployments
        rows["k8s_hpas"] += [{**_hpa_row(state), **stamp} for state in states]
        rows["snapshot_manifest"].append(
            {**stamp, "status": "loaded", "source_uri": f"synthetic/{cluster}", "deployment_count": len(deployments),
             "hpa_count": len(states), "rejected_count": 0}
        )  # fmt: skip
    return rows


def iter_raw_days(spec: FleetSpec) -> Iterator[tuple[date, dict[str, list[dict]]]]:
    api_plans = plans(spec)
    for offset in range(spec.days):
        yield spec.day(offset), raw_rows(spec, offset, api_plans)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output_dir", type=Path)
    parser.add_argument("--apis", type=int, default=FleetSpec.apis)
    parser.add_argument("--days", type=int, default=FleetSpec.days)
    parser.add_argument("--start", type=date.fromisoformat, default=FleetSpec.start)
    parser.add_argument("--seed", type=int, default=FleetSpec.seed)
    args = parser.parse_args(argv)
    spec = FleetSpec(apis=args.apis, days=args.days, start=args.start, seed=args.seed)
    summary = generate(spec, args.output_dir)
    print(json.dumps({**summary.__dict__, "gaps": len(summary.gaps)}, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
