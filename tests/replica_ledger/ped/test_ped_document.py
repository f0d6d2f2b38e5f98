"""The catalogue of bad PED files: every one is refused with its exact messages and exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from replica_ledger.ped.document import Limits, PedConfigError, PedValidationError, load_document, ped_schema

FIXTURES = Path(__file__).parent / "fixtures"
BAD = FIXTURES / "bad"
GOOD = FIXTURES / "good"

NS_RULE = "it must be a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit)"
NAME_RULE = (
    "it must be a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', "
    "each dot-separated part starting and ending with a letter or digit)"
)

# fixture file (without .yaml) -> every message the CLI must print for it, in order
EXPECTED = {
    "max_12": ["spec.maxReplicas: 12 is above the platform maximum 8"],
    "max_1": ["spec.maxReplicas: 1 is below the platform minimum 2"],
    "min_above_max": ["spec.minReplicas: 6 is above spec.maxReplicas 4"],
    "min_1": ["spec.minReplicas: 1 is below the platform minimum 2"],
    "cpu_negative": ["spec.resources.cpu: -0.5 must be positive"],
    "memory_zero": ["spec.resources.memoryGb: 0 must be positive"],
    "cpu_huge": ["spec.resources.cpu: 64 is above the configured maximum 16"],
    "cpu_below_minimum": ["spec.resources.cpu: 0.05 is below the configured minimum 0.1"],
    "memory_huge": ["spec.resources.memoryGb: 512 is above the configured maximum 64"],
    "cpu_nan": ["spec.resources.cpu: must be a finite number, got .nan"],
    "cpu_string": ['spec.resources.cpu: expected a number, got the string "500m"'],
    "max_string": ['spec.maxReplicas: expected an integer, got the string "4"'],
    "max_float": ["spec.maxReplicas: expected an integer, got 4.5"],
    "max_empty": ["spec.maxReplicas: expected an integer, got null (an empty value)"],
    "missing_max": ["spec.maxReplicas: required field is missing"],
    "missing_resources": ["spec.resources: required field is missing"],
    "missing_spec": ["spec: required field is missing"],
    "missing_metadata": ["metadata: required field is missing"],
    "namespace_uppercase": [f'metadata.namespace: "Pricing" is not a valid namespace: {NS_RULE}'],
    "namespace_underscore": [f'metadata.namespace: "pricing_team" is not a valid namespace: {NS_RULE}'],
    "namespace_too_long": ["metadata.namespace: is 64 characters long; a namespace (DNS-1123 label) is at most 63"],
    "namespace_empty": ["metadata.namespace: must not be empty"],
    "namespace_boolean": ["metadata.namespace: expected a string, got a boolean (false)"],
    "name_too_long": ["metadata.name: is 254 characters long; a Deployment name (DNS-1123 subdomain) is at most 253"],
    "name_trailing_dash": [f'metadata.name: "quote-api-" is not a valid Deployment name: {NAME_RULE}'],
    "unknown_action": ['action: "remove" is not a valid action; expected one of "upsert", "delete"'],
    "typo_field": [
        "spec.maxReplicas: required field is missing",
        "spec.maxReplica: unknown field (did you mean 'maxReplicas'?)",
    ],
    "duplicate_key": ['document: duplicate key "maxReplicas" on line 9 (first on line 8)'],
    "wrong_api_version": ['apiVersion: "ped.platform/v2" is not supported; expected "ped.platform/v1"'],
    "wrong_kind": ['kind: "Deployment" is not supported; expected "ApiLimits"'],
    "many_errors": [
        'action: "remove" is not a valid action; expected one of "upsert", "delete"',
        f'metadata.namespace: "Pricing_Team" is not a valid namespace: {NS_RULE}',
        "spec.minReplicas: 9 is above the platform maximum 8",
        "spec.maxReplicas: 12 is above the platform maximum 8",
        "spec.resources.cpu: -1 must be positive",
        "spec.resources.memoryGb: 0 must be positive",
        "colour: unknown field",
    ],
    "list": ["document: expected a mapping (the PED document), got a list"],
    "scalar": ['document: expected a mapping (the PED document), got the string "just some text, not a PED document"'],
    "not_yaml": ["document: not valid YAML: mapping values are not allowed here (line 1, column 20)"],
    "empty": ["document: the file is empty"],
    "two_documents": ["document: expected exactly one YAML document, found 2"],
}


def test_catalogue_covers_every_fixture():
    assert sorted(path.stem for path in BAD.glob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_file_is_refused_with_exact_messages(ped, name):
    path = BAD / f"{name}.yaml"
    result = ped("validate", path)
    assert result.code == 2
    assert result.err_lines == [f"{path}: {message}" for message in EXPECTED[name]]
    assert result.out_lines == ["summary: valid=0 invalid=1"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_file_is_never_recorded(ped, tmp_path, name):
    log = tmp_path / "changes.jsonl"
    result = ped("record", BAD / f"{name}.yaml", "--log", log)
    assert result.code == 2
    assert len(result.err_lines) == len(EXPECTED[name])
    assert result.out_lines == ["summary: accepted=0 no-op=0 rejected=1"]
    assert not log.exists()


def test_library_raises_with_every_error():
    with pytest.raises(PedValidationError) as caught:
        load_document(BAD / "many_errors.yaml")
    assert caught.value.errors == EXPECTED["many_errors"]


def test_good_files_load():
    quote = load_document(GOOD / "quote-api.yaml")
    assert (quote.namespace, quote.deployment, quote.team, quote.action, quote.reason) == (
        "pricing",
        "quote-api",
        "pricing",
        "upsert",
        "onboarding",
    )
    assert (quote.min_replicas, quote.max_replicas, quote.cpu, quote.memory_gb) == (2, 4, 2, 4)
    minimal = load_document(GOOD / "minimal.yaml")
    assert (minimal.team, minimal.min_replicas, minimal.cpu, minimal.memory_gb) == ("search", 2, 0.5, 1.5)
    delete = load_document(GOOD / "delete.yaml")
    assert (delete.action, delete.max_replicas, delete.reason) == ("delete", None, "replaced by quote-api-v2")


def test_validate_reports_each_file_and_counts(ped):
    result = ped("validate", GOOD / "quote-api.yaml", BAD / "max_12.yaml", GOOD / "minimal.yaml")
    assert result.code == 2
    assert result.out_lines == [
        f"{GOOD / 'quote-api.yaml'}: ok: pricing/quote-api upsert (team pricing): replicas 2..4, cpu 2, memory 4 GB",
        f"{GOOD / 'minimal.yaml'}: ok: search/suggest.v2 upsert (team search): replicas 2..3, cpu 0.5, memory 1.5 GB",
        "summary: valid=2 invalid=1",
    ]
    assert result.err_lines == [f"{BAD / 'max_12.yaml'}: spec.maxReplicas: 12 is above the platform maximum 8"]


def test_missing_file(ped, tmp_path):
    result = ped("validate", tmp_path / "nope.yaml")
    assert result.code == 2
    assert result.err_lines == [f"{tmp_path / 'nope.yaml'}: document: cannot read the file: No such file or directory"]


def test_delete_ignores_spec(tmp_path):
    path = tmp_path / "d.yaml"
    path.write_text((BAD / "max_12.yaml").read_text() + "action: delete\n")
    assert load_document(path).action == "delete"


def test_resource_bounds_from_env_and_flags(ped):
    path = BAD / "cpu_huge.yaml"  # cpu 64
    assert ped("validate", path, env={"REPLICA_LEDGER_PED_CPU_MAX": "64"}).code == 0
    assert ped("validate", path, "--cpu-max", "96").code == 0
    result = ped("validate", path, "--cpu-max", "32", env={"REPLICA_LEDGER_PED_CPU_MAX": "64"})
    assert result.err_lines == [f"{path}: spec.resources.cpu: 64 is above the configured maximum 32"]
    result = ped("validate", GOOD / "quote-api.yaml", "--memory-gb-min", "8")
    assert result.code == 2
    assert result.err_lines[-1].endswith("spec.resources.memoryGb: 4 is below the configured minimum 8")


def test_bad_bounds_are_refused(ped):
    result = ped("validate", GOOD / "minimal.yaml", "--cpu-min", "4", "--cpu-max", "2")
    assert (result.code, result.err_lines) == (2, ["error: resource bounds: cpu_min: 4 is above cpu_max 2"])
    result = ped("validate", GOOD / "minimal.yaml", env={"REPLICA_LEDGER_PED_MEMORY_GB_MAX": "lots"})
    assert result.err_lines == ["error: resource bounds: REPLICA_LEDGER_PED_MEMORY_GB_MAX: 'lots' is not a number"]
    with pytest.raises(PedConfigError):
        Limits(cpu_min=0)


def test_schema_command_prints_the_json_schema(ped):
    result = ped("schema", "--cpu-max", "8")
    schema = json.loads(result.out)
    assert result.code == 0
    assert schema == ped_schema(Limits(cpu_max=8))
    assert schema["properties"]["kind"] == {"const": "ApiLimits"}


def test_module_entry_point_exit_codes(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[3] / "include")}
    env.pop("GITHUB_SHA", None)
    bad = subprocess.run(
        [sys.executable, "-m", "replica_ledger.ped", "validate", str(BAD / "max_12.yaml")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert bad.returncode == 2
    assert "spec.maxReplicas: 12 is above the platform maximum 8" in bad.stderr
    good = subprocess.run(
        [sys.executable, "-m", "replica_ledger.ped", "validate", str(GOOD / "quote-api.yaml")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert good.returncode == 0, good.stderr
