"""docker-compose.yaml: valid Compose, and wired to what the code actually reads.

There is no Docker engine here, so the file is checked statically: against the Compose
Specification JSON schema (tests/support/compose_spec.json, see its NOTICE), after the
interpolation Compose itself does; and against the code: every REPLICA_LEDGER_* variable it
sets is one the code reads, every AIRFLOW__SECTION__KEY is a real Airflow option, and the
mounts put dags/, plugins/, include/, dbt_project/ and demo/ where the settings point.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path, PurePosixPath

import jsonschema
import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yaml"
SCHEMA_FILE = REPO_ROOT / "tests" / "support" / "compose_spec.json"
SCHEMA_SHA256 = "0dc04bd346dcfee1b1419628fff79937bbf076925f298f272a2b490e2b112bac"
CONTAINER_ROOT = PurePosixPath("/opt/airflow")
AIRFLOW_SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer")
# Compose interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR?err}; $$ is a literal $.
_INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")
_GO_DURATION = re.compile(r"(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+")
_READ_IN_CODE = re.compile(r"""["'](REPLICA_LEDGER_[A-Z0-9_]+)["']""")


def _interpolate(value):
    """What Compose does to every string with an empty environment (defaults applied)."""
    if isinstance(value, dict):
        return {key: _interpolate(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_interpolate(item) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match) -> str:
        op, arg = match.group("op"), match.group("arg")
        if op in (":?", "?"):
            pytest.fail(f"${{{match.group('name')}}} is required: `docker compose up` fails on a fresh checkout")
        return arg if op in (":-", "-") else ""

    return _INTERPOLATION.sub(replace, value.replace("$$", "\0")).replace("\0", "$")


@pytest.fixture(scope="module")
def compose() -> dict:
    return _interpolate(yaml.safe_load(COMPOSE_FILE.read_text()))


def _env(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def _mounts(service: dict) -> dict[str, PurePosixPath]:
    """host path (relative to the repo) -> container path, for the bind mounts."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            mounts[str(PurePosixPath(source))] = PurePosixPath(target)
    return mounts


def _names_read_by_the_code() -> set[str]:
    files = [
        *REPO_ROOT.glob("include/**/*.py"),
        *REPO_ROOT.glob("dags/**/*.py"),
        *REPO_ROOT.glob("plugins/**/*.py"),
        *REPO_ROOT.glob("dbt_project/**/*.yml"),
    ]
    names: set[str] = set()
    for path in files:
        if "target" in path.parts or "dbt_packages" in path.parts:
            continue
        names.update(_READ_IN_CODE.findall(path.read_text(errors="replace")))
    return names


def test_schema_is_the_vendored_compose_spec():
    assert hashlib.sha256(SCHEMA_FILE.read_bytes()).hexdigest() == SCHEMA_SHA256


def _format_checker() -> jsonschema.FormatChecker:
    """Compose's formats: a "duration" is a Go duration (30s, 1m30s), not ISO 8601."""
    checker = jsonschema.FormatChecker(formats=())
    checker.checks("duration")(lambda value: not isinstance(value, str) or bool(_GO_DURATION.fullmatch(value)))
    return checker


def test_compose_file_is_valid_compose(compose: dict):
    schema = json.loads(SCHEMA_FILE.read_text())
    validator = jsonschema.Draft201909Validator(schema, format_checker=_format_checker())
    errors = sorted(validator.iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


def test_schema_catches_a_broken_file(compose: dict):
    """The validation above is not vacuous: a typo in a service key is rejected."""
    schema = json.loads(SCHEMA_FILE.read_text())
    broken = json.loads(json.dumps(compose))
    broken["services"]["airflow-scheduler"]["comand"] = "scheduler"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft201909Validator(schema).validate(broken)
    late = json.loads(json.dumps(compose))
    late["services"]["postgres"]["healthcheck"]["interval"] = "ten seconds"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft201909Validator(schema, format_checker=_format_checker()).validate(late)


def test_components_of_airflow_3(compose: dict):
    services = compose["services"]
    assert {"postgres", "airflow-init", *AIRFLOW_SERVICES} <= set(services)
    commands = {name: services[name]["command"] for name in AIRFLOW_SERVICES}
    assert commands == {
        "airflow-apiserver": "api-server",
        "airflow-scheduler": "scheduler",
        "airflow-dag-processor": "dag-processor",
        "airflow-triggerer": "triggerer",
    }
    for name in AIRFLOW_SERVICES:
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"
    # Only 127.0.0.1: the stack makes every user an admin.
    assert services["airflow-apiserver"]["ports"] == ["127.0.0.1:8080:8080"]


def test_pinned_airflow_version(compose: dict):
    from replica_ledger.airflow.compat import AIRFLOW_VERSION, IS_AIRFLOW_3

    lock = (REPO_ROOT / "requirements" / "airflow3.lock.txt").read_text()
    pinned = re.search(r"^apache-airflow==(\S+)$", lock, re.M).group(1)
    build = compose["services"]["airflow-scheduler"]["build"]
    assert build["args"]["AIRFLOW_VERSION"] == pinned
    assert compose["services"]["airflow-scheduler"]["image"].endswith(f":{pinned}")
    dockerfile = (REPO_ROOT / build["context"] / build["dockerfile"]).read_text()
    assert "FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}" in dockerfile
    assert "-r /tmp/requirements.txt" in dockerfile
    if IS_AIRFLOW_3:
        assert pinned == AIRFLOW_VERSION


def test_environment_is_what_the_code_reads(compose: dict):
    env = _env(compose["services"]["airflow-scheduler"])
    read = _names_read_by_the_code()
    set_here = {name for name in env if name.startswith("REPLICA_LEDGER_")}
    assert set_here <= read, f"set in docker-compose.yaml but read nowhere: {sorted(set_here - read)}"
    # The contract's local variables (CONTRACT.md section 4) and the DuckDB default target.
    for name in ("REPLICA_LEDGER_ARCHIVE_DIR", "REPLICA_LEDGER_PED_CHANGES", "REPLICA_LEDGER_DUCKDB"):
        assert name in env
    assert env["REPLICA_LEDGER_SLACK_OUTBOX"]
    assert env["REPLICA_LEDGER_DBT_TARGET"] == "duckdb"
    assert env["AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION"] == "True"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql")
    # Every component sees the same configuration.
    for name in AIRFLOW_SERVICES:
        assert _env(compose["services"][name]) == env


def test_airflow_options_exist(compose: dict):
    """Every AIRFLOW__SECTION__KEY names an option of Airflow 3 (or of the Cosmos provider)."""
    from replica_ledger.airflow.compat import IS_AIRFLOW_3

    if not IS_AIRFLOW_3:
        pytest.skip("docker-compose.yaml runs Airflow 3; its options are checked against Airflow 3's config")
    from airflow.configuration import retrieve_configuration_description
    from cosmos import settings as cosmos_settings

    described = retrieve_configuration_description(include_providers=True)
    env = _env(compose["services"]["airflow-scheduler"])
    unknown = []
    for name in env:
        if not name.startswith("AIRFLOW__"):
            continue
        section, key = name.removeprefix("AIRFLOW__").lower().split("__", 1)
        if section == "cosmos":  # Cosmos reads its options with conf.get(..., fallback=...)
            known = hasattr(cosmos_settings, key)
        else:
            known = key in described.get(section, {}).get("options", {})
        if not known:
            unknown.append(name)
    assert not unknown, f"not Airflow options: {unknown}"


def test_mounts_match_the_settings(compose: dict):
    service = compose["services"]["airflow-scheduler"]
    env = _env(service)
    mounts = _mounts(service)
    # The repository's folders sit at the same place under /opt/airflow as in the repo, so
    # replica_ledger.settings.REPO_ROOT (= include/..) resolves to /opt/airflow.
    for folder in ("dags", "plugins", "include", "dbt_project", "demo"):
        assert (REPO_ROOT / folder).is_dir()
        assert mounts[folder] == CONTAINER_ROOT / folder, f"./{folder} must mount at {CONTAINER_ROOT / folder}"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(mounts["dags"])
    assert env["AIRFLOW__CORE__PLUGINS_FOLDER"] == str(mounts["plugins"])
    assert str(mounts["include"]) in env["PYTHONPATH"].split(":")
    assert env["REPLICA_LEDGER_DBT_PROJECT_DIR"] == str(mounts["dbt_project"])
    # Every path setting points into a mounted folder, at a path that exists in the repo.
    local = mounts[".local/docker"]
    for name in ("REPLICA_LEDGER_ARCHIVE_DIR", "REPLICA_LEDGER_PED_CHANGES"):
        container = PurePosixPath(env[name])
        relative = container.relative_to(mounts["demo"])
        assert (REPO_ROOT / "demo" / relative).exists(), f"{name}={container} is not in ./demo"
    for name in ("REPLICA_LEDGER_DUCKDB", "REPLICA_LEDGER_SLACK_OUTBOX", "REPLICA_LEDGER_DBT_DOCS_DIR"):
        assert PurePosixPath(env[name]).is_relative_to(local), f"{name} is not in the writable .local mount"
    assert env["AIRFLOW__COSMOS__DBT_DOCS_DIR"] == env["REPLICA_LEDGER_DBT_DOCS_DIR"]
    # Read-only where the containers never write; dbt writes target/ into dbt_project/.
    read_only = {v.split(":")[0] for v in service["volumes"] if v.endswith(":ro")}
    assert {"./dags", "./plugins", "./include", "./demo"} <= read_only
    assert "./dbt_project" not in read_only
