# Airflow 3.3.2 with replica-ledger's runtime packages, for docker-compose.yaml (local stack).
# The code itself (dags/, plugins/, include/, dbt_project/) is mounted, not copied.
#   docker compose build
ARG AIRFLOW_VERSION=3.3.2
ARG PYTHON_VERSION=3.11
FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}
ARG AIRFLOW_VERSION
# requirements.txt is what Composer installs on top of its image; dbt-duckdb is the local
# warehouse's adapter. Pinning apache-airflow keeps pip from moving the image's Airflow.
COPY requirements.txt /tmp/requirements.txt
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /tmp/requirements.txt "dbt-duckdb==1.11.1" \
    && pip check
