#!/usr/bin/env python3
"""A stand-in `gcloud` for deploy tests: buckets are folders, Composer is a JSON file.

Environment:
  FAKE_GCLOUD_ROOT   folder holding <root>/buckets/<bucket>/..., <root>/calls.jsonl (every
                     argv, one JSON list a line) and <root>/environment.json (the answer to
                     `composer environments describe`).
Implements what scripts/deploy_composer.py uses: `storage rsync` (--recursive,
--delete-unmatched-destination-objects, --exclude REGEX matched against the path relative
to the source/destination; excluded paths are neither copied nor deleted), `storage cp`,
`composer environments describe --format=...`, `composer environments update` and
`composer environments run ... pools -- set NAME SLOTS DESCRIPTION`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(os.environ["FAKE_GCLOUD_ROOT"])
UPDATE_FLAGS = (("--update-env-variables=", "envVariables"), ("--update-airflow-configs=", "airflowConfigOverrides"))


def _bucket_path(url: str) -> Path:
    assert url.startswith("gs://"), url
    return ROOT / "buckets" / url.removeprefix("gs://")


def _files(base: Path) -> set[str]:
    return {p.relative_to(base).as_posix() for p in base.rglob("*") if p.is_file()} if base.exists() else set()


def rsync(args: list[str]) -> None:
    exclude = None
    delete = False
    positional = []
    it = iter(args)
    for arg in it:
        if arg == "--exclude":
            exclude = re.compile(next(it))
        elif arg == "--delete-unmatched-destination-objects":
            delete = True
        elif arg == "--recursive":
            pass
        else:
            positional.append(arg)
    source, destination = Path(positional[0]), _bucket_path(positional[1])

    def kept(rel: str) -> bool:
        return not (exclude and exclude.match(rel))

    wanted = {rel for rel in _files(source) if kept(rel)}
    for rel in wanted:
        (destination / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source / rel, destination / rel)
    if delete:
        for rel in _files(destination) - wanted:
            if kept(rel):
                (destination / rel).unlink()


def main(argv: list[str]) -> int:
    with (ROOT / "calls.jsonl").open("a") as calls:
        calls.write(json.dumps(argv) + "\n")
    environment = json.loads((ROOT / "environment.json").read_text())
    if argv[:2] == ["storage", "rsync"]:
        rsync(argv[2:])
    elif argv[:2] == ["storage", "cp"]:
        destination = _bucket_path(argv[3])
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(argv[2], destination)
    elif argv[:3] == ["composer", "environments", "describe"]:
        fmt = next(a for a in argv if a.startswith("--format="))
        if fmt == "--format=value(config.dagGcsPrefix)":
            print(environment["config"]["dagGcsPrefix"])
        elif fmt == "--format=json(config.softwareConfig)":
            print(json.dumps({"softwareConfig": environment["config"]["softwareConfig"]}))
        else:
            print(f"fake gcloud: unsupported {fmt}", file=sys.stderr)
            return 2
    elif argv[:3] == ["composer", "environments", "update"]:
        software = environment["config"]["softwareConfig"]
        for arg in argv:
            for flag, key in UPDATE_FLAGS:
                if arg.startswith(flag):
                    body = arg.removeprefix(flag)
                    delimiter = "," if not body.startswith("^") else body[1 : body.index("^", 1)]
                    body = body if delimiter == "," else body[body.index("^", 1) + 1 :]
                    software.setdefault(key, {}).update(item.split("=", 1) for item in body.split(delimiter))
        (ROOT / "environment.json").write_text(json.dumps(environment))
    elif argv[:3] == ["composer", "environments", "run"] and argv[argv.index("--") - 1 :][:3] == ["pools", "--", "set"]:
        # `airflow pools set NAME SLOTS DESCRIPTION` in the environment: kept as the pools it holds.
        name, slots, description = argv[argv.index("--") + 2 :]
        environment.setdefault("pools", {})[name] = {"slots": int(slots), "description": description}
        (ROOT / "environment.json").write_text(json.dumps(environment))
    else:
        print(f"fake gcloud: unsupported command {argv}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
