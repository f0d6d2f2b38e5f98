"""replica-ledger: keeps a Kubernetes API platform's replica limits honest, and bills them right.

Shared code for the Airflow DAGs. Nothing here may do work at import time: the DAG
files import this package while Airflow parses them.
"""

__version__ = "0.1.0"
