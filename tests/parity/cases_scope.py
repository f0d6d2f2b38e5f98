"""The namespace scope, one table for both owners of the rule: the Python
(replica_ledger.audit.writes.in_scope, used on the audit log) and dbt's
ledger_namespace_in_scope (macros/cross_db.sql, used on the snapshots).

The pattern language: `*` matches any run of characters (none included); every other
character matches only itself. A glob's `?` and `[...]` and LIKE's `_` and `%` are plain
characters here (and Settings refuses them in REPLICA_LEDGER_EXCLUDED_NAMESPACES).

Each case: (excluded patterns, namespace, whether the namespace is excluded).
"""

from __future__ import annotations

DEFAULTS = ("kube-system", "kube-public", "kube-node-lease", "gmp-system", "gke-managed-*", "composer-*")

CASES: list[tuple[tuple[str, ...], str, bool]] = [
    # the contract's defaults
    (DEFAULTS, "kube-system", True),
    (DEFAULTS, "kube-systems", False),
    (DEFAULTS, "kube-syste", False),
    (DEFAULTS, "gke-managed-", True),
    (DEFAULTS, "gke-managed-filestorecsi", True),
    (DEFAULTS, "gke-managed", False),
    (DEFAULTS, "my-gke-managed-x", False),
    (DEFAULTS, "composer-2-1-abc", True),
    (DEFAULTS, "payments", False),
    (DEFAULTS, "KUBE-SYSTEM", False),  # case matters
    # `*` anywhere, several times, alone
    (("*-sandbox",), "team-a-sandbox", True),
    (("*-sandbox",), "team-a-sandbox-2", False),
    (("team-*-dev-*",), "team-a-dev-1", True),
    (("team-*-dev-*",), "team--dev-", True),
    (("team-*-dev-*",), "team-a-prod-1", False),
    (("*",), "anything", True),
    (("**",), "x", True),
    ((), "kube-system", False),
    # `?` is a character, not "any one character"
    (("kube-?",), "kube-a", False),
    (("kube-?",), "kube-?", True),
    # `[...]` is characters, not a class
    (("team-[ab]",), "team-a", False),
    (("team-[ab]",), "team-[ab]", True),
    (("team-[!a]*",), "team-b", False),
    (("team-[!a]*",), "team-[!a]-x", True),
    # `_` and `%` are characters, not LIKE's wildcards
    (("team_a",), "team-a", False),
    (("team_a",), "team_a", True),
    (("team_a*",), "teamxa-1", False),
    (("team%",), "team-a", False),
    (("team%",), "team%", True),
    (("team-%-*",), "team-x-y", False),
    # characters regular expressions or SQL care about
    (("a.b",), "axb", False),
    (("a.b",), "a.b", True),
    (("a+",), "aa", False),
    (("it's-*",), "it's-mine", True),
    (("back\\slash",), "back\\slash", True),
    (("back\\slash",), "backslash", False),
    (("(x|y)",), "x", False),
    (("é*",), "ecole", False),
    (("é*",), "éte", True),
]
