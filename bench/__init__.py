"""Benchmarks of replica-ledger (`make bench`). Run from the repo root as modules,
`python -m bench.run_all` or `python -m bench.bench_NAME`, so tooling/ and tests/ import as packages."""
