"""Values fixed by the data contract (CONTRACT.md, shared with the PED and platform teams), written once.

Python reads them from here; dbt receives them as vars (``dbt_runner.build_vars``), so the
models never repeat a literal. Changing one of these changes the contract: update
CONTRACT.md with it. Nothing here is configuration, except the excluded namespaces, whose
default lives here and which ``REPLICA_LEDGER_EXCLUDED_NAMESPACES`` overrides.
"""

from __future__ import annotations

import re

# §1.2: the platform allows max_replicas in 2..8; min_replicas defaults to 2.
PLATFORM_MIN_REPLICAS = 2
PLATFORM_MAX_REPLICAS = 8
DEFAULT_MIN_REPLICAS = 2
# §3 "Numbers in change rows": cpu and memory_gb are finite and above 0. The ceilings are
# far above any node (a pod cannot outgrow its node), so a value beyond them is a typo or an
# overflow (1e308 is finite, but the bill computed from it is not).
MAX_POD_CPU = 1024
MAX_POD_MEMORY_GB = 65536

# Kubernetes keeps replica counts (spec.replicas, an HPA's min/max, status counters) in an
# int32: a larger value is no real object, and 2^64 would not even fit the warehouse's BIGINT.
MAX_REPLICA_COUNT = 2**31 - 1
# metadata.generation and status.observedGeneration are int64.
MAX_GENERATION = 2**63 - 1

# Kubernetes names, as the API server checks them: a namespace (and a cluster name, contract
# §1.1's `<cluster>` of a snapshot file) is a DNS-1123 label, a Deployment or HPA name a
# DNS-1123 subdomain. The only Python spelling of these patterns; dbt's twin is the macro
# ledger_pattern_dns1123_* (tests/replica_ledger/test_names.py runs both on one case table).
DNS1123_LABEL_PATTERN = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN_PATTERN = rf"{DNS1123_LABEL_PATTERN}(\.{DNS1123_LABEL_PATTERN})*"
DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
_DNS1123_LABEL = re.compile(DNS1123_LABEL_PATTERN)
_DNS1123_SUBDOMAIN = re.compile(DNS1123_SUBDOMAIN_PATTERN)


def is_dns1123_label(value) -> bool:
    """A namespace or a cluster name: lower-case letters, digits and '-', at most 63 characters."""
    return isinstance(value, str) and len(value) <= DNS1123_LABEL_MAX and bool(_DNS1123_LABEL.fullmatch(value))


def is_dns1123_subdomain(value) -> bool:
    """A Deployment or HPA name: DNS-1123 labels joined by '.', at most 253 characters."""
    return isinstance(value, str) and len(value) <= DNS1123_SUBDOMAIN_MAX and bool(_DNS1123_SUBDOMAIN.fullmatch(value))


# §3 "Scope": namespaces never in scope unless configured otherwise ('*' is a wildcard).
DEFAULT_EXCLUDED_NAMESPACES: tuple[str, ...] = (
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "gmp-system",
    "gke-managed-*",
    "composer-*",
)

# §3 "Breach types": exact strings.
REPLICAS_OVER_LIMIT = "replicas_over_limit"
HPA_MAX_OVER_LIMIT = "hpa_max_over_limit"
UNREGISTERED_DEPLOYMENT = "unregistered_deployment"
# §6: the audit log shows the HPA max or the replicas above the approved max during a day
# whose snapshot is within it.
INTRADAY_OVER_LIMIT = "intraday_over_limit"
BREACH_TYPES: tuple[str, ...] = (
    REPLICAS_OVER_LIMIT,
    HPA_MAX_OVER_LIMIT,
    UNREGISTERED_DEPLOYMENT,
    INTRADAY_OVER_LIMIT,
)

# §1.2: the change log's fields, in this order (the JSON Lines key order, the table's columns).
CHANGE_LOG_FIELDS: tuple[str, ...] = (
    "change_id",
    "namespace",
    "deployment",
    "team",
    "min_replicas",
    "max_replicas",
    "cpu",
    "memory_gb",
    "changed_at",
    "changed_by",
    "action",
    "reason",
)
CHANGE_LOG_REQUIRED_FIELDS: tuple[str, ...] = (
    "change_id",
    "namespace",
    "deployment",
    "max_replicas",
    "cpu",
    "memory_gb",
    "changed_at",
    "action",
)
# Required on an upsert only: a delete carries no limits.
CHANGE_LOG_UPSERT_ONLY_FIELDS: tuple[str, ...] = ("max_replicas", "cpu", "memory_gb")
CHANGE_LOG_ACTIONS: tuple[str, ...] = ("upsert", "delete")
# §1.2 defaults: team = the namespace, min_replicas = DEFAULT_MIN_REPLICAS, changed_by:
UNKNOWN_CHANGED_BY = "unknown"


def dbt_vars() -> dict[str, object]:
    """The contract values the dbt models read with ``var()`` (dbt_project.yml documents them)."""
    return {
        "platform_min_replicas": PLATFORM_MIN_REPLICAS,
        "platform_max_replicas": PLATFORM_MAX_REPLICAS,
        "default_min_replicas": DEFAULT_MIN_REPLICAS,
        "max_pod_cpu": MAX_POD_CPU,
        "max_pod_memory_gb": MAX_POD_MEMORY_GB,
        "breach_types": list(BREACH_TYPES),
    }
