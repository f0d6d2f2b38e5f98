"""Test suite of replica-ledger (a package so `tests.support` imports resolve here, not elsewhere)."""
