# The cluster snapshot collector: python -m replica_ledger.collector (CONTRACT.md section 4).
#
# Build from the repository root:
#   docker build -f docker/collector.Dockerfile -t replica-ledger-collector .
# Run in a pod with the service account of include/k8s/rbac.yaml:
#   args: ["--cluster", "gke-prod", "--output", "gs://BUCKET/snapshots"]
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app

# Pinned, complete dependency list; --no-deps so nothing unpinned sneaks in, pip check so a
# missing pin fails the build instead of the first run.
COPY docker/collector-requirements.txt /tmp/collector-requirements.txt
RUN pip install --no-deps --requirement /tmp/collector-requirements.txt \
    && pip check \
    && rm /tmp/collector-requirements.txt

# Only the collector and what it shares (standard library only: the retry policy, the
# contract's names): the rest of replica_ledger is DAG code with Airflow dependencies.
COPY include/replica_ledger/__init__.py /app/replica_ledger/__init__.py
COPY include/replica_ledger/contract.py /app/replica_ledger/contract.py
COPY include/replica_ledger/http_retry.py /app/replica_ledger/http_retry.py
COPY include/replica_ledger/fsync.py /app/replica_ledger/fsync.py
COPY include/replica_ledger/clock.py /app/replica_ledger/clock.py
COPY include/replica_ledger/collector/ /app/replica_ledger/collector/
# Bytecode at build time: the Kubernetes client is ~1,000 modules, compiled on every start otherwise.
RUN python -m compileall -q /app/replica_ledger

RUN useradd --system --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin collector
USER 10001:10001
WORKDIR /tmp

ENTRYPOINT ["python", "-m", "replica_ledger.collector"]
