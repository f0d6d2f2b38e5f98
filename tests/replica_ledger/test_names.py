"""Kubernetes names have one Python owner (contract.py) and one SQL twin (the dbt macros
ledger_pattern_dns1123_*): one case table, run through both, must get the same verdicts.

The SQL side is the macros' own text, as int_limit_changes__validated applies it (a length
limit, then a full match), run by DuckDB's RE2 engine; the Python side is what the snapshot
parser, the change-log reader, the collector and the PED schema use.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from replica_ledger.collector.collect import validate_cluster_name
from replica_ledger.contract import (
    DNS1123_LABEL_MAX,
    DNS1123_SUBDOMAIN_MAX,
    is_dns1123_label,
    is_dns1123_subdomain,
)
from replica_ledger.raw.layout import ARCHIVE

DBT = Path(__file__).resolve().parents[2] / "dbt_project"

# (text, is a DNS-1123 label, is a DNS-1123 subdomain)
CASES = [
    ("gke-eu", True, True),
    ("a", True, True),
    ("0", True, True),
    ("web.v2", False, True),
    ("api.v2-eu", False, True),
    ("GKE-EU", False, False),
    ("gke eu", False, False),
    ("gke_eu", False, False),
    ("..", False, False),
    ("", False, False),
    ("-gke", False, False),
    ("gke-", False, False),
    ("api.", False, False),
    (".api", False, False),
    ("a..b", False, False),
    ("gke-eu\n", False, False),
    ("gké", False, False),
    ("g" * 63, True, True),
    ("g" * 64, False, True),
    ("a" * 253, False, True),
    ("a" * 254, False, False),
    ("<!channel>", False, False),
]


def _macro(name: str) -> str:
    text = (DBT / "macros" / "validation.sql").read_text()
    match = re.search(r"\{% macro " + name + r"\(\) -%\}(.*?)\{%- endmacro %\}", text, re.S)
    assert match, name
    return match[1].strip()


def _sql_limit(column: str) -> int:
    model = (DBT / "models" / "intermediate" / "int_limit_changes__validated.sql").read_text()
    return int(re.search(rf"length\({column}\) <= (\d+)", model)[1])


def test_the_sql_limits_are_the_contract_limits():
    assert (_sql_limit("namespace"), _sql_limit("deployment")) == (DNS1123_LABEL_MAX, DNS1123_SUBDOMAIN_MAX)


@pytest.mark.parametrize(("text", "label", "subdomain"), CASES)
def test_python_and_sql_agree(text, label, subdomain):
    sql = "select length(?) <= ? and regexp_full_match(?, ?), length(?) <= ? and regexp_full_match(?, ?)"
    params = [text, DNS1123_LABEL_MAX, text, _macro("ledger_pattern_dns1123_label")]
    params += [text, DNS1123_SUBDOMAIN_MAX, text, _macro("ledger_pattern_dns1123_subdomain")]
    with duckdb.connect() as con:
        in_sql = con.execute(sql, params).fetchone()
    assert (is_dns1123_label(text), is_dns1123_subdomain(text)) == (label, subdomain)
    assert in_sql == (label, subdomain)


@pytest.mark.parametrize(("text", "label", "subdomain"), CASES)
def test_every_python_reader_uses_the_one_rule(text, label, subdomain):
    # The archive's cluster names and the collector's.
    assert (ARCHIVE.cluster_of(f"dt=2026-10-14/{text}.json") == text) == label
    try:
        validate_cluster_name(text)
        collector_accepts = True
    except ValueError:
        collector_accepts = False
    assert collector_accepts == label
