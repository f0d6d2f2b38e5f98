"""What a PED document may contain: its JSON Schema and the configured resource bounds.

The replica range is the contract's (:mod:`replica_ledger.contract`), not configuration;
the cpu and memory bounds are configuration (:class:`Limits`: defaults, then
``REPLICA_LEDGER_PED_*`` variables, then CLI flags).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

from replica_ledger.contract import (
    CHANGE_LOG_ACTIONS,
    DNS1123_LABEL_MAX,
    DNS1123_LABEL_PATTERN,
    DNS1123_SUBDOMAIN_MAX,
    DNS1123_SUBDOMAIN_PATTERN,
    PLATFORM_MAX_REPLICAS,
    PLATFORM_MIN_REPLICAS,
)
from replica_ledger.ped.messages import fmt_number

API_VERSION = "ped.platform/v1"
KIND = "ApiLimits"
ACTIONS = CHANGE_LOG_ACTIONS

# Kubernetes (apimachinery validation): a namespace is a DNS-1123 label, a Deployment
# name a DNS-1123 subdomain (the patterns' owner is contract.py).
DNS1123_LABEL = f"^{DNS1123_LABEL_PATTERN}$"
DNS1123_SUBDOMAIN = f"^{DNS1123_SUBDOMAIN_PATTERN}$"
TEAM_MAX = 128
REASON_MAX = 1000
# Free text (team, reason, changed_by): no '<' or '>' (Slack would read `<!channel>` as a
# mention) and no control character (a line break forges a line in an alert, an escape
# sequence drives a terminal). Rendering neutralises them anyway; the PED refuses them at
# the source, where the author can fix them.
# `(?![\s\S])` is the end of the text in both ECMA and Python regexes (`$` also matches before a final
# line break in Python).
FREE_TEXT = "^[^<>\\x00-\\x1f\\x7f-\\x9f]*(?![\\s\\S])"

ENV_PREFIX = "REPLICA_LEDGER_PED_"


class PedConfigError(ValueError):
    """The configured bounds themselves are unusable."""


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


def _spec_schema(limits: Limits) -> dict:
    def resource(low: float, high: float) -> dict:
        return {"type": "number", "exclusiveMinimum": 0, "minimum": low, "maximum": high}

    replicas = {"type": "integer", "minimum": PLATFORM_MIN_REPLICAS, "maximum": PLATFORM_MAX_REPLICAS}
    return {
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


def _metadata_schema() -> dict:
    return {
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
            "team": {"type": "string", "minLength": 1, "maxLength": TEAM_MAX, "pattern": FREE_TEXT},
        },
    }


def ped_schema(limits: Limits | None = None) -> dict:
    """The JSON Schema (draft 2020-12) of a PED document for the given resource bounds."""
    limits = limits or Limits()
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
            "metadata": _metadata_schema(),
            "spec": {},
            "action": {"enum": list(ACTIONS)},
            "reason": {"type": "string", "maxLength": REASON_MAX, "pattern": FREE_TEXT},
        },
        # A delete needs no spec and ignores one; anything else needs a valid spec.
        "if": {"required": ["action"], "properties": {"action": {"const": "delete"}}},
        "else": {"required": ["spec"], "properties": {"spec": _spec_schema(limits)}},
    }
