"""Connection arguments for the local Airflow's SQLite metadata DB (scripts/airflow_env.sh).

Airflow 3's backfill runs a scheduler, a dag-processor, an api-server and task processes
against one SQLite file. SQLite allows one writer, and its default busy timeout (5 s) is
short enough that, on a loaded 2-core machine, one of them fails with "database is locked"
while another commits. Waiting up to a minute for the lock is harmless locally; production
(Composer) uses Postgres and never reads this.

The timeout does not cover every case: a transaction that has read and then writes while
another connection holds the write lock gets "database is locked" at once, since waiting
could deadlock. `airflow backfill create` is one, so scripts/backfill.sh runs it while no
other Airflow process runs.
"""

# Read by Airflow through [database] sql_alchemy_connect_args (and _async on Airflow 3).
CONNECT_ARGS = {"timeout": 60}
