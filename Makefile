# replica-ledger: the two commands are `make demo` and `make test`.
# Everything installs into .venv/ with pinned versions (requirements/*.lock.txt).
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
AIRFLOW ?= 3
UV_VERSION := 0.13.8
# The pip of .venv/boot, which resolves requirements.txt against Composer's pinned sets
# (tests/test_composer_requirements.py): Python 3.11's bundled pip resolves the same set
# several times slower (docs/benchmarks.md).
PIP_VERSION := 26.3
BOOT := .venv/boot
UV := $(BOOT)/bin/uv
export UV_PYTHON_DOWNLOADS := never
export UV_LINK_MODE := copy
# The venvs are installed with their bytecode: `make test` runs with PYTHONDONTWRITEBYTECODE=1
# (as this machine sets it), so without it every Airflow, dbt and emulator process of the
# suite compiled the modules it imports again (docs/benchmarks.md).
export UV_COMPILE_BYTECODE := 1
export PYTHONDONTWRITEBYTECODE :=

.PHONY: help venv venvs demo demo-gcp test lint backfill rebuild docs report policies bench clean deploy-composer examples

help:
	@echo "make demo                      run the pipeline over the demo month (Airflow $(AIRFLOW)) and print the results"
	@echo "make demo-gcp [EVERY=7]        the same month on the production wiring (BigQuery, GCS, Firestore, Slack) on local emulators"
	@echo "  [DEPLOYED=1]                 ... run from the Composer deploy plan's bundle instead of the checkout"
	@echo "make test                      lint + tests on Airflow 2.11 and 3.x"
	@echo "make deploy-rehearsal          the Composer deploy's bundle runs two days on the emulators (AIRFLOW=2|3)"
	@echo "make backfill FROM=.. TO=..    real Airflow backfill over snapshot days FROM..TO (AIRFLOW=2|3)"
	@echo "make rebuild                   rebuild every dbt model from the loaded raw tables (keeps raw tables and ledgers)"
	@echo "make report                    print breaches, gaps and bills from the local warehouse"
	@echo "make policies                  write the admission policies, ConfigMaps and alert rules of the current limits"
	@echo "make docs                      generate the dbt docs into .local/dbt_docs"
	@echo "make examples                  regenerate docs/examples (demo statement, its screenshot, the Slack messages)"
	@echo "make bench [BACKFILL_DAYS=30]  benchmarks: one table of figures vs targets (docs/benchmarks.md)"
	@echo "make test-fast                 the edit-test loop: unit tests, dbt unit tests, Python/SQL parity tables"

# The edit-test loop: every test module but those that run Airflow, build dbt on data, start an
# emulator or resolve packages (`make test` runs them all). dbt's unit tests and the parity
# tables are in: tests/dbt/test_dbt_unit_tests.py, tests/parity/.
FAST_SKIP := tests/dags tests/plugins tests/replica_ledger/airflow tests/dbt/test_bigquery_compile.py \
  tests/dbt/test_bigquery_emulator.py tests/dbt/test_partial_parse.py tests/replica_ledger/test_late_data.py \
  tests/replica_ledger/test_billing_close.py tests/replica_ledger/test_pipeline.py tests/replica_ledger/test_bad_inputs.py \
  tests/replica_ledger/audit/test_audit_dbt.py tests/replica_ledger/audit/test_audit_demo.py \
  tests/replica_ledger/audit/test_audit_load_bigquery.py tests/replica_ledger/audit/test_audit_sink_bigquery.py \
  tests/replica_ledger/alerts/test_alerts_end_to_end.py tests/replica_ledger/alerts/test_alert_log_bigquery.py \
  tests/replica_ledger/statements/test_statement_log.py \
  tests/replica_ledger/gcp/test_bigquery_load.py tests/replica_ledger/gcp/test_gcp_snapshot_source.py \
  tests/replica_ledger/ped/test_ped_firestore.py tests/replica_ledger/collector/test_collector_cli.py \
  tests/replica_ledger/collector/test_collector_packaging.py tests/test_composer_requirements.py \
  tests/test_deploy_composer.py tests/test_docker_compose.py tests/tooling/test_gcs_firestore_emulators.py \
  tests/tooling/test_synthetic_fleet.py tests/replica_ledger/policies/test_generate.py
.PHONY: test-fast
test-fast: venv
	.venv/af$(AIRFLOW)/bin/python -m pytest tests -q -p no:cacheprovider -m "not airflow" $(addprefix --ignore=,$(FAST_SKIP))

$(UV):
	$(PYTHON) -m venv $(BOOT)
	$(BOOT)/bin/python -m pip install --quiet --disable-pip-version-check pip==$(PIP_VERSION) uv==$(UV_VERSION)

# One environment per Airflow major version, each from its own lock file.
.venv/af%/.installed: requirements/airflow%.lock.txt pyproject.toml | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) .venv/af$*
	VIRTUAL_ENV=.venv/af$* $(UV) pip install --quiet -r requirements/airflow$*.lock.txt
	VIRTUAL_ENV=.venv/af$* $(UV) pip install --quiet --no-deps -e .
	touch $@

# The BigQuery emulator (local-bigquery) for the dbt-on-BigQuery tests: its own Python 3.13
# venv. DuckDB cannot download its extensions offline, so the extension wheels of the lock
# file are copied into .venv/bq/duckdb_extensions (the folder bigquery_server.py gives DuckDB).
BQ_PYTHON ?= $(shell for p in $$(command -v python3.13) $$HOME/.pyenv/versions/3.13*/bin/python3.13; do \
  "$$p" -c '' 2>/dev/null && { echo "$$p"; break; }; done)
.venv/bq/.installed: requirements/bq-emulator.lock.txt | $(UV)
	@test -n "$(BQ_PYTHON)" || { echo "python3.13 not found: needed for the BigQuery emulator (.venv/bq)"; exit 1; }
	$(UV) venv --quiet --allow-existing --python $(BQ_PYTHON) .venv/bq
	VIRTUAL_ENV=.venv/bq $(UV) pip install --quiet -r requirements/bq-emulator.lock.txt
	ext_dir=.venv/bq/duckdb_extensions/$$(.venv/bq/bin/python -c \
	  'import duckdb; print("v" + duckdb.__version__ + "/" + duckdb.sql("pragma platform").fetchone()[0])') && \
	  mkdir -p $$ext_dir && cp .venv/bq/lib/python3.13/site-packages/duckdb_extension_*/extensions/v*/*.duckdb_extension $$ext_dir/
	touch $@

venv: .venv/af$(AIRFLOW)/.installed
venvs: .venv/af3/.installed .venv/af2/.installed .venv/bq/.installed

demo: venv
	AIRFLOW=$(AIRFLOW) bash scripts/demo.sh

# REPLICA_LEDGER_ENV=gcp on 127.0.0.1: BigQuery emulator, fake-gcs-server, Firestore emulator,
# fake Kubernetes API and a Slack webhook receiver, all stopped at the end (tooling/demo_gcp.py).
demo-gcp: check-prereqs-demo-gcp venv .venv/bq/.installed
	AIRFLOW=$(AIRFLOW) bash scripts/demo_gcp.sh $(if $(EVERY),--every $(EVERY)) $(if $(DEPLOYED),--deployed)

test: check-prereqs-test venvs .venv/bq/.installed
	bash scripts/test.sh

lint: venv
	bash scripts/lint.sh .venv/af$(AIRFLOW)

backfill: venv
	@test -n "$(FROM)" -a -n "$(TO)" || { echo "usage: make backfill FROM=YYYY-MM-DD TO=YYYY-MM-DD [AIRFLOW=2|3]"; exit 2; }
	AIRFLOW=$(AIRFLOW) bash scripts/backfill.sh $(FROM) $(TO)

rebuild: venv
	AIRFLOW=$(AIRFLOW) bash scripts/rebuild.sh

# docs/examples: the demo month's payments statement (HTML, CSV, JSON, a Chromium screenshot)
# and every Slack message of its outbox, from a fresh demo run under .local/examples-demo.
# tests/dags/test_demo_month.py fails when they drift from what the demo writes.
examples: venv
	rm -rf .local/examples-demo
	REPLICA_LEDGER_LOCAL_DIR=$(CURDIR)/.local/examples-demo AIRFLOW_HOME=$(CURDIR)/.local/examples-demo/airflow \
		AIRFLOW=$(AIRFLOW) bash scripts/demo.sh >/dev/null
	bash scripts/install_chromium.sh
	.venv/af$(AIRFLOW)/bin/python -m tooling.examples .local/examples-demo docs/examples

report: venv
	.venv/af$(AIRFLOW)/bin/python -m replica_ledger.report

# The objects of contract section 8 from the local warehouse's current limits (docs/policies.md).
policies: venv
	.venv/af$(AIRFLOW)/bin/python -m replica_ledger.policies

docs: venv
	.venv/af$(AIRFLOW)/bin/python -m replica_ledger.docs

# Benchmarks (docs/benchmarks.md), on 2 cores; the demo part runs make demo here and at its base
# commit, one after the other (bench/bench_demo.py). The backfill part runs 30 days on
# Airflow 3 (its target's own figure) and BACKFILL_DAYS days on Airflow 2.11 (default 5,
# extrapolated to 30; BACKFILL_DAYS=30 for the real thing).
BACKFILL_DAYS ?= 5
bench: venvs
	.venv/af3/bin/python -m bench.run_all --backfill-days $(BACKFILL_DAYS)

clean:
	rm -rf .local dbt_project/target dbt_project/logs

# Deploy to Cloud Composer: make deploy-composer ENV=name LOCATION=region [BUCKET=bucket] [PROJECT=id]
#   [ENV_FILE=path] [DRY_RUN=1]. `make deploy-composer ... --dry-run` (make -n) prints the deploy too:
# the recipe is marked `+`, so it runs under -n and passes --dry-run on to the script.
deploy-composer: .venv/af2/.installed
	@test -n "$(ENV)" -a -n "$(LOCATION)" || { echo "usage: make deploy-composer ENV=name LOCATION=region [BUCKET=..] [PROJECT=..] [ENV_FILE=..] [--dry-run|DRY_RUN=1]"; exit 2; }
	+@.venv/af2/bin/python scripts/deploy_composer.py --env "$(ENV)" --location "$(LOCATION)" \
	  $(if $(BUCKET),--bucket "$(BUCKET)") $(if $(PROJECT),--project "$(PROJECT)") $(if $(ENV_FILE),--env-file "$(ENV_FILE)") \
	  $(if $(or $(DRY_RUN),$(findstring n,$(firstword -$(MAKEFLAGS)))),--dry-run)

# What the machine must have (Python 3.11 and 3.13, Java and gcloud's Firestore emulator,
# Chromium), checked before any venv is built: each missing one is named with its install command.
check-prereqs-%:
	@bash scripts/check_prereqs.sh $* "$(PYTHON)" "$(BQ_PYTHON)"

# The deployed bundle, not the checkout: the deploy plan's bucket through fake-gcs-server into a
# folder laid out as Composer's /home/airflow/gcs, two days on the demo-gcp emulators, compared
# with demo-gcp's same days (tooling/deploy_rehearsal.py). DAYS=YYYY-MM-DD,YYYY-MM-DD to choose.
.PHONY: deploy-rehearsal
deploy-rehearsal: check-prereqs-deploy-rehearsal venv .venv/bq/.installed
	AIRFLOW=$(AIRFLOW) bash scripts/deploy_rehearsal.sh $(if $(DAYS),--days $(DAYS))
