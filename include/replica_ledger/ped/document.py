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

Validation is a JSON Schema (:mod:`.schema`; the CLI prints it with
``python -m replica_ledger.ped schema``) plus the rules a schema cannot say well
(``minReplicas <= maxReplicas``, finite numbers, duplicate YAML keys: :mod:`.strict_yaml`).
Every error is reported, each as ``<field path>: <message>`` (:mod:`.messages`), e.g.
``spec.maxReplicas: 12 is above the platform maximum 8``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from replica_ledger.contract import DEFAULT_MIN_REPLICAS
from replica_ledger.ped.messages import describe, drop_shadowed, error_lines, fmt_number, non_finite, translate
from replica_ledger.ped.schema import API_VERSION, KIND, Limits, PedConfigError, ped_schema
from replica_ledger.ped.strict_yaml import MAX_DOCUMENT_BYTES, StrictYamlError, check_size, load_single_document

# Names callers import from here, wherever they are defined.
__all__ = [
    "API_VERSION",
    "KIND",
    "Limits",
    "PedConfigError",
    "PedDocument",
    "PedValidationError",
    "describe",
    "fmt_number",
    "load_document",
    "parse_yaml",
    "ped_schema",
    "read_file",
    "validate_data",
]


class PedValidationError(ValueError):
    """A PED document was refused; ``errors`` holds every ``path: message``."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


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


_REPLICA_PATHS = {"document", "spec", "spec.minReplicas", "spec.maxReplicas"}


def _findings(data: dict, is_delete: bool, limits: Limits) -> list:
    """Every problem of a mapping: non-finite numbers, schema errors, then min <= max."""
    from jsonschema import Draft202012Validator

    checked = {k: v for k, v in data.items() if not (is_delete and k == "spec")}
    found = non_finite(checked)
    bad_numbers = {path for path, _, _ in found}
    for error in Draft202012Validator(ped_schema(limits)).iter_errors(checked):
        found.extend(item for item in translate(error) if item[0] not in bad_numbers)
    found = drop_shadowed(found)
    # min <= max only means something once both replica fields passed the schema.
    if not is_delete and not {path for path, _, _ in found} & _REPLICA_PATHS:
        spec = data["spec"]
        low, high = spec.get("minReplicas", DEFAULT_MIN_REPLICAS), spec["maxReplicas"]
        if low > high:
            found.append(("spec.minReplicas", "rule", f"{low} is above spec.maxReplicas {high}"))
    return found


def _document(data: dict, is_delete: bool) -> PedDocument:
    meta = data["metadata"]
    reason = data.get("reason")
    reason = reason.strip() or None if isinstance(reason, str) else None
    if is_delete:
        low = high = cpu = memory = None
    else:
        spec = data["spec"]
        low = int(spec.get("minReplicas", DEFAULT_MIN_REPLICAS))
        high = int(spec["maxReplicas"])
        cpu = spec["resources"]["cpu"]
        memory = spec["resources"]["memoryGb"]
    return PedDocument(
        namespace=meta["namespace"],
        deployment=meta["name"],
        team=meta.get("team") or meta["namespace"],
        action=data.get("action", "upsert"),
        reason=reason,
        min_replicas=low,
        max_replicas=high,
        cpu=cpu,
        memory_gb=memory,
    )


def validate_data(data, limits: Limits | None = None) -> tuple[PedDocument | None, list[str]]:
    """Validate an already-parsed document. Returns (document, []) or (None, errors)."""
    limits = limits or Limits()
    if not isinstance(data, dict):
        return None, [f"document: expected a mapping (the PED document), got {describe(data)}"]
    is_delete = data.get("action") == "delete"
    found = _findings(data, is_delete, limits)
    if found:
        return None, error_lines(found)
    return _document(data, is_delete), []


def parse_yaml(text: str | bytes):
    """Parse one YAML document strictly. Raises PedValidationError with a ``document:`` error."""
    try:
        return load_single_document(text)
    except StrictYamlError as exc:
        raise PedValidationError([f"document: {exc}"]) from None


def read_file(path: str | Path) -> bytes:
    """A PED file's bytes, read at most to its size cap (a 10 MB file, a device or a pipe that
    never ends is refused, not read whole). Raises PedValidationError with a ``document:`` error."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_DOCUMENT_BYTES + 1)
    except OSError as exc:
        raise PedValidationError([f"document: cannot read the file: {exc.strerror}"]) from None
    try:
        check_size(len(raw))
    except StrictYamlError as exc:
        raise PedValidationError([f"document: {exc}"]) from None
    return raw


def load_document(source: str | Path | bytes, limits: Limits | None = None) -> PedDocument:
    """Read and validate a PED file (a path) or its content (bytes). Raises PedValidationError."""
    raw = source if isinstance(source, bytes) else read_file(source)
    document, errors = validate_data(parse_yaml(raw), limits)
    if errors:
        raise PedValidationError(errors)
    return document
