"""The generated ClusterRules' rule groups through Prometheus' own checker and rule unit
tester (promtool, from Debian's prometheus package: scripts/install_promtool.sh).

GMP turns a ClusterRules' `spec.groups` into a Prometheus rule file as it is (and adds the
cluster's selectors and labels); the file written here is that rule file without GMP's
scoping, so the input series carry the `cluster` label kube-state-metrics' series have there.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from replica_ledger.policies import objects

REPO_ROOT = Path(__file__).resolve().parents[3]
PROMTOOL = REPO_ROOT / ".venv" / "tools" / "bin" / "promtool"
CLUSTER = "gke-demo-eu"
# The registry before PED's raise of payments-api (day 11): payments 3, orders 4, catalog 4.
LIMITS = [
    objects.Limit("payments", "payments-api", 3),
    objects.Limit("orders", "orders-api", 4),
    objects.Limit("catalog", "catalog-api", 4),
]


@pytest.fixture(scope="module")
def promtool() -> Path:
    if not PROMTOOL.exists():
        subprocess.run(["bash", str(REPO_ROOT / "scripts" / "install_promtool.sh")], check=True, cwd=REPO_ROOT)
    assert PROMTOOL.exists(), f"{PROMTOOL} missing after scripts/install_promtool.sh"
    return PROMTOOL


@pytest.fixture(scope="module")
def rule_file(tmp_path_factory) -> Path:
    rules = objects.cluster_rules(CLUSTER, LIMITS)
    path = tmp_path_factory.mktemp("rules") / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": rules["spec"]["groups"]}, sort_keys=True))
    return path


def run(promtool: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(promtool), *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def _series(metric: str, values: str, **labels: str) -> dict:
    text = ",".join(f'{key}="{value}"' for key, value in sorted({"cluster": CLUSTER, **labels}.items()))
    return {"series": f"{metric}{{{text}}}", "values": values}


def _hpa(namespace: str, name: str, values: str, target: str | None = None) -> list[dict]:
    return [
        _series(
            "kube_horizontalpodautoscaler_spec_max_replicas", values, namespace=namespace, horizontalpodautoscaler=name
        ),
        _series(
            "kube_horizontalpodautoscaler_info",
            "1x60",
            namespace=namespace,
            horizontalpodautoscaler=name,
            scaletargetref_api_version="apps/v1",
            scaletargetref_kind="Deployment",
            scaletargetref_name=target or name,
        ),
    ]


def _alert(namespace: str, deployment: str, breach_type: str, value: int, what: str) -> dict:
    return {
        "exp_labels": {
            "cluster": CLUSTER,
            "namespace": namespace,
            "deployment": deployment,
            "breach_type": breach_type,
        },
        "exp_annotations": {
            "summary": f"{what} {value} of {namespace}/{deployment} on {CLUSTER} is above its approved max: "
            + objects.RAISE_HINT
        },
    }


def test_promtool_checks_the_rules(promtool, rule_file):
    result = run(promtool, "check", "rules", rule_file.name, cwd=rule_file.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: 5 rules found" in result.stdout


def test_promtool_rule_tests(promtool, rule_file):
    """payments-api's HPA raised from 3 to 6 at minute 10 (Ana's edit, before PED): pending,
    then firing after `for: 5m`. orders-api at its max (HPA 4, replicas 4): never. catalog's
    replicas 5 over 4 from minute 20 (its HPA, named otherwise, at 4): replicas_over_limit."""
    tests = {
        "rule_files": [rule_file.name],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [
                    *_hpa("payments", "payments-api", "3x9 6x50"),
                    _series("kube_deployment_spec_replicas", "3x60", namespace="payments", deployment="payments-api"),
                    *_hpa("orders", "orders-api", "4x60"),
                    _series("kube_deployment_spec_replicas", "4x60", namespace="orders", deployment="orders-api"),
                    *_hpa("catalog", "catalog-hpa", "4x60", target="catalog-api"),
                    _series(
                        "kube_deployment_spec_replicas", "4x19 5x40", namespace="catalog", deployment="catalog-api"
                    ),
                ],
                "promql_expr_test": [
                    {
                        "expr": objects.APPROVED_METRIC,
                        "eval_time": "1m",
                        "exp_samples": [
                            {"labels": f'{objects.APPROVED_METRIC}{{deployment="{d}",namespace="{n}"}}', "value": v}
                            for n, d, v in sorted((x.namespace, x.deployment, x.max_replicas) for x in LIMITS)
                        ],
                    }
                ],
                "alert_rule_test": [
                    {"eval_time": "9m", "alertname": objects.ALERT_NAME, "exp_alerts": []},
                    {"eval_time": "14m", "alertname": objects.ALERT_NAME, "exp_alerts": []},  # pending: for 5m
                    {
                        "eval_time": "15m",
                        "alertname": objects.ALERT_NAME,
                        "exp_alerts": [_alert("payments", "payments-api", "hpa_max_over_limit", 6, "HPA maxReplicas")],
                    },
                    {
                        "eval_time": "26m",
                        "alertname": objects.ALERT_NAME,
                        "exp_alerts": [
                            _alert("catalog", "catalog-api", "replicas_over_limit", 5, "spec.replicas"),
                            _alert("payments", "payments-api", "hpa_max_over_limit", 6, "HPA maxReplicas"),
                        ],
                    },
                ],
            }
        ],
    }
    test_file = rule_file.parent / "tests.yaml"
    test_file.write_text(yaml.safe_dump(tests, sort_keys=False))
    result = run(promtool, "test", "rules", test_file.name, cwd=rule_file.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_promtool_fails_a_wrong_expectation(promtool, rule_file):
    """The rule tests above can fail: the payments alert expected one minute early is refused."""
    tests = {
        "rule_files": [rule_file.name],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": _hpa("payments", "payments-api", "3x9 6x50"),
                "alert_rule_test": [
                    {
                        "eval_time": "14m",
                        "alertname": objects.ALERT_NAME,
                        "exp_alerts": [_alert("payments", "payments-api", "hpa_max_over_limit", 6, "HPA maxReplicas")],
                    }
                ],
            }
        ],
    }
    test_file = rule_file.parent / "early.yaml"
    test_file.write_text(yaml.safe_dump(tests, sort_keys=False))
    result = run(promtool, "test", "rules", test_file.name, cwd=rule_file.parent)
    assert result.returncode != 0
