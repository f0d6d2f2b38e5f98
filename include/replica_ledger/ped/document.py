"""The PED document: one YAML file per API, validated before anything is recorded.

Format (``apiVersion: ped.platform/v1``, ``kind: ApiLimits``)::

    apiVersion: ped.platform/v1
    kind: ApiLimits
    metadata:
      namespace: pricing        # DNS-1123 label, at most 63 characters
      name: quote-api           # the Deployment: DNS-1123 subdomain, at most 253 characters
      team: pricing             # optional, defaults to the namespace; routes alerts
    spec:
      minReplicas: 2            # optional, defaults to 2; 2 <= minReplicas <= maxReplicas
      maxReplicas: 4            # required; the platform allows 2..8
      resources:
        cpu: 2                  # vCPU per pod, > 0 and within the configured bounds
        memoryGb: 4             # GB per pod, > 0 and within the configured bounds
    action: upsert              # optional: upsert (default) or delete
    reason: onboarding          # optional free text

With ``action: delete`` the ``spec`` is optional and ignored: a delete decommissions
the API named by ``metadata``.

Validation is a JSON Schema (draft 2020-12, see :func:`ped_schema`; the CLI prints it
with ``python -m replica_ledger.ped schema``) plus the rules a schema cannot say well
(``minReplicas <= maxReplicas``, finite numbers, duplicate YAML keys). Every error is
reported, each as ``<field path>: <message>``, e.g.
``spec.maxReplicas: 12 is above the platform maximum 8``.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import yaml

API_VERSION = "ped.platform/v1"
KIND = "ApiLimits"
ACTIONS = ("upsert", "delete")

# The platform's replica bounds are part of the contract (§1.2), not configuration.
PLATFORM_MIN_REPLICAS = 2
PLATFORM_MAX_REPLICAS = 8
DEFAULT_MIN_REPLICAS = 2

# Kubernetes (apimachinery validation): a namespace is a DNS-1123 label, a Deployment
# name a DNS-1123 subdomain.
DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
DNS1123_SUBDOMAIN_MAX = 253
TEAM_MAX = 128
REASON_MAX = 1000

ENV_PREFIX = "REPLICA_LEDGER_PED_"


class PedConfigError(ValueError):
    """The configured bounds themselves are unusable."""


class PedValidationError(ValueError):
    """A PED document was refused; ``errors`` holds every ``path: message``."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class Limits:
    """Configured resource bounds (inclusive). Defaults overridable by env or CLI flags."""

    cpu_min: float = 0.1
    cpu_max: float = 16
    memory_gb_min: float = 0.1
    memory_gb_max: float = 64

    ENV = {
        "cpu_min": ENV_PREFIX + "CPU_MIN",
        "cpu_max": ENV_PREFIX + "CPU_MAX",
        "memory_gb_min": ENV_PREFIX + "MEMORY_GB_MIN",
        "memory_gb_max": ENV_PREFIX + "MEMORY_GB_MAX",
    }

    def __post_init__(self):
        for low, high in (("cpu_min", "cpu_max"), ("memory_gb_min", "memory_gb_max")):
            lo, hi = getattr(self, low), getattr(self, high)
            for name, value in ((low, lo), (high, hi)):
                if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                    raise PedConfigError(f"{name}: {value!r} is not a finite number")
            if lo <= 0:
                raise PedConfigError(f"{low}: {fmt_number(lo)} must be positive")
            if lo > hi:
                raise PedConfigError(f"{low}: {fmt_number(lo)} is above {high} {fmt_number(hi)}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: float | None) -> Limits:
        """Defaults, then ``REPLICA_LEDGER_PED_*`` variables, then explicit overrides (flags)."""
        env = os.environ if env is None else env
        values: dict[str, float] = {}
        for field_name, variable in cls.ENV.items():
            raw = env.get(variable)
            if raw not in (None, ""):
                try:
                    values[field_name] = float(raw)
                except ValueError:
                    raise PedConfigError(f"{variable}: {raw!r} is not a number") from None
            if overrides.get(field_name) is not None:
                values[field_name] = overrides[field_name]
        return cls(**values)


@dataclass(frozen=True)
class PedDocument:
    """A valid PED document, flattened to the change log's vocabulary."""

    namespace: str
    deployment: str
    team: str
    action: str
    reason: str | None
    min_replicas: int | None
    max_replicas: int | None
    cpu: float | None
    memory_gb: float | None


def fmt_number(value) -> str:
    """12 -> '12', 16.0 -> '16', 0.1 -> '0.1', nan -> '.nan' (as YAML writes it)."""
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        if value.is_integer():
            return str(int(value))
    return repr(value)


def ped_schema(limits: Limits | None = None) -> dict:
    """The JSON Schema of a PED document for the given resource bounds."""
    limits = limits or Limits()

    def resource(low: float, high: float) -> dict:
        return {"type": "number", "exclusiveMinimum": 0, "minimum": low, "maximum": high}

    replicas = {"type": "integer", "minimum": PLATFORM_MIN_REPLICAS, "maximum": PLATFORM_MAX_REPLICAS}
    spec = {
        "type": "object",
        "additionalProperties": False,
        "required": ["maxReplicas", "resources"],
        "properties": {
            "minReplicas": replicas,
            "maxReplicas": replicas,
            "resources": {
                "type": "object",
                "additionalProperties": False,
                "required": ["cpu", "memoryGb"],
                "properties": {
                    "cpu": resource(limits.cpu_min, limits.cpu_max),
                    "memoryGb": resource(limits.memory_gb_min, limits.memory_gb_max),
                },
            },
        },
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://ped.platform/schemas/v1/ApiLimits.json",
        "title": "PED ApiLimits",
        "type": "object",
        "additionalProperties": False,
        "required": ["apiVersion", "kind", "metadata"],
        "properties": {
            "apiVersion": {"const": API_VERSION},
            "kind": {"const": KIND},
            "metadata": {
                "type": "object",
                "additionalProperties": False,
                "required": ["namespace", "name"],
                "properties": {
                    "namespace": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": DNS1123_LABEL_MAX,
                        "pattern": DNS1123_LABEL,
                    },
                    "name": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": DNS1123_SUBDOMAIN_MAX,
                        "pattern": DNS1123_SUBDOMAIN,
                    },
                    "team": {"type": "string", "minLength": 1, "maxLength": TEAM_MAX},
                },
            },
            "spec": {},
            "action": {"enum": list(ACTIONS)},
            "reason": {"type": "string", "maxLength": REASON_MAX},
        },
        # A delete needs no spec and ignores one; anything else needs a valid spec.
        "if": {"required": ["action"], "properties": {"action": {"const": "delete"}}},
        "else": {"required": ["spec"], "properties": {"spec": spec}},
    }


# --- messages -------------------------------------------------------------------------

_FIELD_ORDER = [
    "document",
    "apiVersion",
    "kind",
    "action",
    "reason",
    "metadata",
    "metadata.namespace",
    "metadata.name",
    "metadata.team",
    "spec",
    "spec.minReplicas",
    "spec.maxReplicas",
    "spec.resources",
    "spec.resources.cpu",
    "spec.resources.memoryGb",
]
_RANK = {name: rank for rank, name in enumerate(_FIELD_ORDER)}

_PATTERN_HINTS = {
    "metadata.namespace": (
        "is not a valid namespace: it must be a DNS-1123 label "
        "(lowercase letters, digits and '-', starting and ending with a letter or digit)"
    ),
    "metadata.name": (
        "is not a valid Deployment name: it must be a DNS-1123 subdomain (lowercase letters, "
        "digits, '-' and '.', each dot-separated part starting and ending with a letter or digit)"
    ),
}
_LENGTH_WHAT = {
    "metadata.namespace": "a namespace (DNS-1123 label)",
    "metadata.name": "a Deployment name (DNS-1123 subdomain)",
    "metadata.team": "a team",
    "reason": "a reason",
}
_TYPE_NAMES = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "object": "a mapping",
    "array": "a list",
    "boolean": "a boolean",
}


def _path(parts) -> str:
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "document"


def _join(path: str, key) -> str:
    return str(key) if path == "document" else f"{path}.{key}"


def describe(value) -> str:
    """How a wrong value is shown in a message."""
    if value is None:
        return "null (an empty value)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return fmt_number(value)
    if isinstance(value, str):
        return f"the string {json.dumps(value)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, datetime | date):
        return f"a date ({value.isoformat()})"
    return f"a {type(value).__name__}"


def _shown(value) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return fmt_number(value)
    return describe(value)


def _translate(error) -> list[tuple[str, str, str]]:
    """One jsonschema error -> [(path, keyword, message)]."""
    path = _path(error.absolute_path)
    keyword = error.validator
    value = error.instance
    expected = error.validator_value
    if keyword == "required":
        return [
            (_join(path, name), keyword, "required field is missing")
            for name in expected
            if isinstance(value, dict) and name not in value
        ]
    if keyword == "additionalProperties":
        known = list(error.schema.get("properties", {}))
        out = []
        for key in value:
            if key in known:
                continue
            hint = difflib.get_close_matches(str(key), known, n=1)
            message = "unknown field" + (f" (did you mean {hint[0]!r}?)" if hint else "")
            out.append((_join(path, key), keyword, message))
        return out
    if keyword == "type":
        return [(path, keyword, f"expected {_TYPE_NAMES.get(expected, expected)}, got {describe(value)}")]
    if keyword == "const":
        return [(path, keyword, f"{_shown(value)} is not supported; expected {json.dumps(expected)}")]
    if keyword == "enum":
        options = ", ".join(json.dumps(option) for option in expected)
        what = "action" if path == "action" else "value"
        return [(path, keyword, f"{_shown(value)} is not a valid {what}; expected one of {options}")]
    scope = "configured" if path.startswith("spec.resources.") else "platform"
    if keyword == "maximum":
        return [(path, keyword, f"{fmt_number(value)} is above the {scope} maximum {fmt_number(expected)}")]
    if keyword == "minimum":
        return [(path, keyword, f"{fmt_number(value)} is below the {scope} minimum {fmt_number(expected)}")]
    if keyword == "exclusiveMinimum":
        return [(path, keyword, f"{fmt_number(value)} must be positive")]
    if keyword == "pattern":
        hint = _PATTERN_HINTS.get(path, f"does not match {expected}")
        return [(path, keyword, f"{json.dumps(value)} {hint}")]
    if keyword == "maxLength":
        what = _LENGTH_WHAT.get(path, "this field")
        return [(path, keyword, f"is {len(value)} characters long; {what} is at most {expected}")]
    if keyword == "minLength":
        return [(path, keyword, "must not be empty")]
    return [(path, keyword, error.message)]


# When a field fails several checks, keep the one that explains it best.
_SHADOWED_BY = {
    "minimum": ("exclusiveMinimum",),
    "pattern": ("minLength",),
}


def _non_finite(node, parts=()) -> list[tuple[str, str, str]]:
    out = []
    if isinstance(node, float) and not math.isfinite(node):
        out.append((_path(parts), "finite", f"must be a finite number, got {fmt_number(node)}"))
    elif isinstance(node, dict):
        for key, child in node.items():
            out.extend(_non_finite(child, (*parts, key)))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            out.extend(_non_finite(child, (*parts, index)))
    return out


def _sort_key(item: tuple[str, str, str]):
    """Document order; an unknown field right after its known siblings and their children."""
    path = item[0]
    if path in _RANK:
        return (_RANK[path], 0, path, item[2])
    parent = path.rsplit(".", 1)[0] if "." in path else "document"
    while parent not in _RANK and "." in parent:
        parent = parent.rsplit(".", 1)[0]
    if parent not in _RANK:
        parent = "document"
    prefix = "" if parent == "document" else parent + "."
    last = max(rank for name, rank in _RANK.items() if name == parent or name.startswith(prefix))
    return (last, 1, path, item[2])


def validate_data(data, limits: Limits | None = None) -> tuple[PedDocument | None, list[str]]:
    """Validate an already-parsed document. Returns (document, []) or (None, errors)."""
    from jsonschema import Draft202012Validator

    limits = limits or Limits()
    if not isinstance(data, dict):
        return None, [f"document: expected a mapping (the PED document), got {describe(data)}"]
    is_delete = data.get("action") == "delete"
    checked = {k: v for k, v in data.items() if not (is_delete and k == "spec")}

    found = _non_finite(checked)
    bad_numbers = {path for path, _, _ in found}
    validator = Draft202012Validator(ped_schema(limits))
    for error in validator.iter_errors(checked):
        found.extend(item for item in _translate(error) if item[0] not in bad_numbers)
    by_path: dict[str, set[str]] = {}
    for path, keyword, _ in found:
        by_path.setdefault(path, set()).add(keyword)
    found = [item for item in found if not any(shadow in by_path[item[0]] for shadow in _SHADOWED_BY.get(item[1], ()))]

    spec = data.get("spec") if isinstance(data.get("spec"), dict) else {}
    failed = {path for path, _, _ in found}
    replica_paths = {"document", "spec", "spec.minReplicas", "spec.maxReplicas"}
    if not is_delete and not failed & replica_paths:
        low = spec.get("minReplicas", DEFAULT_MIN_REPLICAS)
        high = spec["maxReplicas"]
        if low > high:
            found.append(("spec.minReplicas", "rule", f"{low} is above spec.maxReplicas {high}"))

    if found:
        unique = sorted(set(found), key=_sort_key)
        return None, [f"{path}: {message}" for path, _, message in unique]

    meta = data["metadata"]
    reason = data.get("reason")
    reason = reason.strip() or None if isinstance(reason, str) else None
    if is_delete:
        low = high = cpu = memory = None
    else:
        low = int(spec.get("minReplicas", DEFAULT_MIN_REPLICAS))
        high = int(spec["maxReplicas"])
        cpu = spec["resources"]["cpu"]
        memory = spec["resources"]["memoryGb"]
    return (
        PedDocument(
            namespace=meta["namespace"],
            deployment=meta["name"],
            team=meta.get("team") or meta["namespace"],
            action=data.get("action", "upsert"),
            reason=reason,
            min_replicas=low,
            max_replicas=high,
            cpu=cpu,
            memory_gb=memory,
        ),
        [],
    )


class _DuplicateKey(ValueError):
    pass


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys instead of silently keeping the last one."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False):
    loader.flatten_mapping(node)
    seen: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            duplicate = key in seen
        except TypeError:
            duplicate = False
        if duplicate:
            raise _DuplicateKey(
                f"duplicate key {json.dumps(str(key))} on line {key_node.start_mark.line + 1} "
                f"(first on line {seen[key] + 1})"
            )
        with contextlib.suppress(TypeError):
            seen[key] = key_node.start_mark.line
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def parse_yaml(text: str | bytes):
    """Parse one YAML document strictly. Raises PedValidationError with a ``document:`` error."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            error = f"document: not UTF-8 text ({exc.reason} at byte {exc.start})"
            raise PedValidationError([error]) from None
    if not text.strip():
        raise PedValidationError(["document: the file is empty"])
    try:
        documents = list(yaml.load_all(text, Loader=_StrictLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise PedValidationError([f"document: not valid YAML: {exc.problem}{where}"]) from None
    except yaml.YAMLError as exc:
        raise PedValidationError([f"document: not valid YAML: {exc}"]) from None
    except _DuplicateKey as exc:
        raise PedValidationError([f"document: {exc}"]) from None
    if not documents:
        raise PedValidationError(["document: the file is empty"])
    if len(documents) != 1:
        raise PedValidationError([f"document: expected exactly one YAML document, found {len(documents)}"])
    return documents[0]


def load_document(source: str | Path | bytes, limits: Limits | None = None) -> PedDocument:
    """Read and validate a PED file (a path) or its content (bytes). Raises PedValidationError."""
    if isinstance(source, bytes):
        raw = source
    else:
        try:
            raw = Path(source).read_bytes()
        except OSError as exc:
            raise PedValidationError([f"document: cannot read the file: {exc.strerror}"]) from None
    document, errors = validate_data(parse_yaml(raw), limits)
    if errors:
        raise PedValidationError(errors)
    return document
