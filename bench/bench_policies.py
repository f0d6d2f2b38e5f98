"""The generated policies at fleet scale: a day's folder for 5,000 APIs in 400 namespaces.

    python -m bench.bench_policies

Times `policies.folder.build_files` (the objects, their YAML, the manifest) and the local
write, median of 3, for APIS limits spread over NAMESPACES namespaces and CLUSTERS clusters;
measures the largest ConfigMap (as the API server stores it: JSON) and the largest
ClusterRules. Writes bench/out/bench_policies.json.
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

import yaml

from replica_ledger.policies import folder, objects

OUT = Path(__file__).resolve().parent / "out"
APIS, NAMESPACES, CLUSTERS, RUNS = 5_000, 400, 3, 3
TARGET_S, CONFIG_MAP_LIMIT_BYTES = 3.0, 100 * 1024
# Kubernetes refuses an object above about 1.5 MiB (etcd's request limit): the ClusterRules' bound.
OBJECT_LIMIT_BYTES = 1_572_864


def limits() -> list[objects.Limit]:
    """APIS limits over NAMESPACES namespaces, names as long as teams write them."""
    return [
        objects.Limit(f"team-{index % NAMESPACES:03d}-namespace", f"service-{index:05d}-api-deployment", 2 + index % 7)
        for index in range(APIS)
    ]


def main() -> int:
    fleet, clusters = limits(), [f"gke-prod-{number}" for number in range(CLUSTERS)]
    times, files = [], None
    for _ in range(RUNS):
        with tempfile.TemporaryDirectory(prefix="bench-policies-") as tmp:
            started = time.perf_counter()
            files = folder.build_files(fleet, clusters, ("Warn", "Audit"))
            folder.write_local(Path(tmp), date(2026, 10, 31), files)
            times.append(time.perf_counter() - started)
    config_maps = list(yaml.safe_load_all(files.files[folder.CONFIG_MAPS]))
    config_map_bytes = max(len(json.dumps(doc, separators=(",", ":"))) for doc in config_maps)
    rules_bytes = max(
        len(json.dumps(yaml.safe_load(data), separators=(",", ":")))
        for name, data in files.files.items()
        if name.startswith("clusterrules-")
    )
    report = {
        "apis": APIS,
        "namespaces": len(config_maps),
        "clusters": CLUSTERS,
        "median_s": statistics.median(times),
        "runs_s": times,
        "target_s": TARGET_S,
        "max_config_map_bytes": config_map_bytes,
        "config_map_limit_bytes": CONFIG_MAP_LIMIT_BYTES,
        "max_cluster_rules_bytes": rules_bytes,
        "object_limit_bytes": OBJECT_LIMIT_BYTES,
        "folder_bytes": sum(len(data) for data in files.files.values()),
    }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "bench_policies.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
