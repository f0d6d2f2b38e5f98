"""Deploy replica-ledger to a Cloud Composer environment (Composer 3, Airflow 2.11 or 3.x).

    python scripts/deploy_composer.py --env ENV --location LOCATION [--bucket BUCKET] [--dry-run]
    make deploy-composer ENV=.. LOCATION=.. [BUCKET=..] --dry-run      (or DRY_RUN=1)

The deploy is data first (tooling/deploy_plan.py, the plan `make deploy-rehearsal` runs):
what goes where in the environment's bucket (Composer mounts it at /home/airflow/gcs/):

    dags/                   -> gs://BUCKET/dags/                  the DAG files and .airflowignore
    include/replica_ledger/ -> gs://BUCKET/dags/replica_ledger/   importable: Composer puts dags/ on
                                                                   sys.path; .airflowignore keeps the
                                                                   DAG processor out of it
    plugins/                -> gs://BUCKET/plugins/
    dbt_project/            -> gs://BUCKET/data/dbt_project/      read by the dbt tasks; dbt parses it
                                                                   into DBT_TARGET_PATH (worker scratch)
    requirements.txt        -> the environment's PyPI packages

then the environment variables the code reads (this layout's, plus --env-file's: the
environment's own REPLICA_LEDGER_* settings), the [cosmos] options of the docs view, and the
warehouse pool (`airflow pools set` through `gcloud composer environments run`).
Each `gcloud composer environments update` is skipped when the environment already has those
values (Composer refuses an update that changes nothing, and each one takes minutes).
Connections are not set here: they hold secrets (docs/deploy-composer.md, Secret Manager).

--dry-run prints the whole deploy as a shell script and runs nothing: no gcloud call, no
describe (without --bucket, the bucket is looked up by the printed script itself).

Only the product ships: before anything else (dry run included), the deploy lists the files its
syncs would upload and refuses to go on if one of them is development code (tooling/, tests/,
bench/) or imports it.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))  # the deploy plan lives in tooling/ (it never ships)

from replica_ledger.settings import VARIABLES  # noqa: E402
from tooling.deploy_plan import (  # noqa: E402
    DeployPlan,
    build_plan,
    read_requirements,
)

# Development packages of the repo root: never shipped, and never imported by what ships.
DEV_PACKAGES = ("tooling", "tests", "bench")


@dataclass
class Step:
    """One command of the deploy; `local` ones run here, the others talk to Google Cloud."""

    comment: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)

    def shell(self) -> str:
        prefix = " ".join(f"{key}={shlex.quote(value)}" for key, value in self.env.items())
        command = " ".join(_quote(arg) for arg in self.argv)
        return f"# {self.comment}\n{prefix + ' ' if prefix else ''}{command}"


def _quote(arg: str) -> str:
    # Keep "$BUCKET" expandable in the printed script; quote everything else as needed.
    if "$BUCKET" in arg or "$(" in arg:
        return '"' + arg.replace('"', '\\"') + '"'
    return shlex.quote(arg)


# The collector's own tunables (collector/settings.py): read in its pod, not in Composer.
COLLECTOR_PREFIX = "REPLICA_LEDGER_COLLECTOR_"


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines (comments and blank lines ignored): the environment's own settings."""
    values = {}
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        key = key.strip()
        if not sep or not re.fullmatch(r"[A-Z_][A-Z0-9_]*", key):
            raise SystemExit(f"{path}:{number}: expected KEY=VALUE, got {raw!r}")
        if key.startswith("REPLICA_LEDGER_") and key not in VARIABLES and not key.startswith(COLLECTOR_PREFIX):
            raise SystemExit(f"{path}:{number}: {key} is not a replica-ledger setting (replica_ledger/settings.py)")
        values[key] = value.strip()
    return values


def _gcloud_dict(values: dict[str, str]) -> str:
    """gcloud's KEY=VALUE list with '|' as the delimiter (values may hold commas, e.g. clusters)."""
    return "^|^" + "|".join(f"{key}={value}" for key, value in values.items())


def _environment_args(args) -> list[str]:
    extra = ["--location", args.location]
    if args.project:
        extra += ["--project", args.project]
    return extra


def deploy_plan(args, bucket: str) -> DeployPlan:
    """The deploy as data (tooling/deploy_plan.py): the same plan the rehearsal runs."""
    return build_plan(bucket, args.env_values, args.requirements, repo_root=REPO_ROOT)


def plan(args, bucket: str) -> list[Step]:
    """Every command of the deploy, in order. `bucket` may be the shell variable $BUCKET."""
    gcloud = args.gcloud
    data = deploy_plan(args, bucket)
    steps = [
        Step(
            sync.comment,
            [
                gcloud,
                "storage",
                "rsync",
                "--recursive",
                "--delete-unmatched-destination-objects",
                "--exclude",
                sync.exclude,
                str(sync.source),
                f"gs://{bucket}/{sync.destination}",
            ],
        )
        for sync in data.syncs
    ]
    if not args.skip_config:
        variables = _gcloud_dict(data.env_variables)
        configs = _gcloud_dict(data.airflow_configs)
        steps += [
            Step(
                "environment variables the code reads (skipped when already set: Composer rejects a no-op update)",
                [
                    gcloud,
                    "composer",
                    "environments",
                    "update",
                    args.env,
                    *_environment_args(args),
                    f"--update-env-variables={variables}",
                ],
            ),
            Step(
                "[cosmos] options: dbt docs in the Airflow UI from the bucket (skipped when already set)",
                [
                    gcloud,
                    "composer",
                    "environments",
                    "update",
                    args.env,
                    *_environment_args(args),
                    f"--update-airflow-configs={configs}",
                ],
            ),
        ]
        # `airflow pools set` in the environment: Airflow never schedules a task whose pool is
        # missing, and says nothing. Setting an existing pool to the same slots is a no-op.
        steps += [
            Step(
                f"the pool {pool.name} ({pool.slots} slot(s)) of the warehouse tasks",
                [
                    gcloud,
                    "composer",
                    "environments",
                    "run",
                    args.env,
                    *_environment_args(args),
                    "pools",
                    "--",
                    "set",
                    pool.name,
                    str(pool.slots),
                    pool.description,
                ],
            )
            for pool in data.pools
        ]
    if not args.skip_pypi:
        steps.append(
            Step(
                "PyPI packages on top of Composer's image (the deploy skips it when the environment already has them)",
                [
                    gcloud,
                    "composer",
                    "environments",
                    "update",
                    args.env,
                    *_environment_args(args),
                    "--update-pypi-packages-from-file",
                    str(args.requirements),
                ],
            )
        )
    return steps


@dataclass(frozen=True)
class ShippedFile:
    local: Path
    destination: str


def shipped_files(steps: list[Step]) -> list[ShippedFile]:
    """Every local file the `storage rsync` steps upload.

    Same rule as the sync: --exclude is a regex matched from the start of the path relative to
    the synced folder.
    """
    files = []
    for step in steps:
        if step.argv[1:3] != ["storage", "rsync"]:
            continue
        exclude = re.compile(step.argv[step.argv.index("--exclude") + 1])
        source, destination = Path(step.argv[-2]), step.argv[-1]
        for path in sorted(source.rglob("*")):
            relative = path.relative_to(source).as_posix()
            if path.is_file() and not exclude.match(relative):
                files.append(ShippedFile(path, f"{destination}/{relative}"))
    return files


def dev_imports(path: Path) -> list[str]:
    """The modules `path` imports from a development package (absolute imports; relative ones stay inside)."""
    tree = ast.parse(path.read_bytes(), filename=str(path))
    modules = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.append(node.module)
    return [module for module in modules if module.split(".")[0] in DEV_PACKAGES]


def development_code(files: list[ShippedFile]) -> list[str]:
    """What in `files` is not product: a file of a development package, or a module importing one."""
    dev_roots = [REPO_ROOT / package for package in DEV_PACKAGES]
    problems = []
    for file in files:
        if any(file.local.is_relative_to(root) for root in dev_roots):
            problems.append(f"{file.local}: development code")
        elif file.local.suffix == ".py" and (modules := dev_imports(file.local)):
            problems.append(f"{file.local}: imports {', '.join(modules)}")
    return problems


def describe(args, value_format: str) -> str:
    argv = [args.gcloud, "composer", "environments", "describe", args.env, *_environment_args(args)]
    return subprocess.run([*argv, f"--format={value_format}"], check=True, capture_output=True, text=True).stdout


def bucket_lookup(args) -> list[str]:
    return [
        args.gcloud,
        "composer",
        "environments",
        "describe",
        args.env,
        *_environment_args(args),
        "--format=value(config.dagGcsPrefix)",
    ]


def bucket_from_dag_prefix(prefix: str) -> str:
    """gs://europe-west1-prod-1234-bucket/dags -> europe-west1-prod-1234-bucket."""
    match = re.fullmatch(r"gs://([^/]+)/dags/?", prefix.strip())
    if not match:
        raise SystemExit(f"unexpected config.dagGcsPrefix {prefix.strip()!r}; pass --bucket")
    return match.group(1)


def already_applied(args, step: Step) -> bool:
    """True when the environment already has what this `environments update` would set."""
    flag = step.argv[-1] if step.argv[-2] != "--update-pypi-packages-from-file" else "--update-pypi-packages-from-file"
    software = json.loads(describe(args, "json(config.softwareConfig)") or "{}").get("softwareConfig", {})
    if flag == "--update-pypi-packages-from-file":
        current = {re.sub(r"[-_.]+", "-", k).lower(): v for k, v in software.get("pypiPackages", {}).items()}
        return current == read_requirements(Path(step.argv[-1]))
    key, _, values = flag.partition("=")
    wanted = dict(item.split("=", 1) for item in values.removeprefix("^|^").split("|"))
    current = software.get("envVariables" if key == "--update-env-variables" else "airflowConfigOverrides", {})
    return all(current.get(k) == v for k, v in wanted.items())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", required=True, help="Composer environment name")
    parser.add_argument("--location", required=True, help="its region, e.g. europe-west1")
    parser.add_argument("--bucket", help="its bucket (default: from `gcloud composer environments describe`)")
    parser.add_argument("--project", help="Google Cloud project (default: gcloud's configured project)")
    parser.add_argument("--requirements", type=Path, default=REPO_ROOT / "requirements.txt")
    parser.add_argument(
        "--env-file",
        type=Path,
        help="KEY=VALUE file of the environment's settings (REPLICA_LEDGER_ENV=gcp, ...; docs/deploy-composer.md)",
    )
    parser.add_argument("--skip-pypi", action="store_true", help="do not update the PyPI packages")
    parser.add_argument("--skip-config", action="store_true", help="do not update env variables / Airflow options")
    parser.add_argument("--dry-run", action="store_true", help="print the commands, run nothing")
    parser.add_argument("--gcloud", default="gcloud", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.requirements = args.requirements.resolve()
    if not args.requirements.is_file():
        parser.error(f"{args.requirements} not found")
    args.env_values = read_env_file(args.env_file) if args.env_file else {}
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    problems = development_code(shipped_files(plan(args, "$BUCKET")))
    if problems:
        raise SystemExit("refusing to deploy development code to Composer:\n  " + "\n  ".join(problems))

    if args.dry_run:
        print("#!/usr/bin/env bash")
        print(f"# replica-ledger deploy to Composer environment {args.env} ({args.location}) -- dry run")
        print("set -euo pipefail")
        if args.bucket:
            print(f"BUCKET={shlex.quote(args.bucket)}")
        else:
            lookup = " ".join(shlex.quote(a) for a in bucket_lookup(args))
            print("# the environment's bucket, from its DAG folder gs://BUCKET/dags")
            print(f"BUCKET=$({lookup} | sed -E 's#^gs://([^/]+)/dags/?$#\\1#')")
        for step in plan(args, "$BUCKET"):
            print(step.shell())
        return 0

    bucket = args.bucket or bucket_from_dag_prefix(describe(args, "value(config.dagGcsPrefix)"))
    for step in plan(args, bucket):
        if step.argv[:4] == [args.gcloud, "composer", "environments", "update"] and already_applied(args, step):
            print(f"== skip ({step.comment}): already applied", flush=True)
            continue
        print(f"== {step.comment}\n   {' '.join(shlex.quote(a) for a in step.argv)}", flush=True)
        subprocess.run(step.argv, check=True, env={**os.environ, **step.env})
    print(f"deployed to gs://{bucket} (environment {args.env}, {args.location})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
