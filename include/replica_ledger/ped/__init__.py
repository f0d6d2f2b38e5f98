"""PED: validate an API's approved limits (a YAML document) and record them in the change log.

The PED pipeline calls ``python -m replica_ledger.ped`` after a PED change is approved:

* ``validate FILE...`` checks PED files (format: :mod:`replica_ledger.ped.document`);
* ``record FILE... --log DEST`` appends one change row per file (contract §1.2; rows:
  :mod:`replica_ledger.changelog`, built by :mod:`.record`) to a JSON Lines file or a
  BigQuery table ``bq://project.dataset.table`` (:mod:`.destination`, :mod:`.jsonl`,
  :mod:`.bigquery`, under the append-only rule of :mod:`.backend`);
* ``delete`` records a decommission; ``firestore-sync`` turns a Firestore PED collection
  into change rows (:mod:`.firestore`); ``schema`` prints the document's JSON Schema
  (:mod:`.schema`).

See docs/ped.md. Nothing heavy is imported here: the DAG files import ``replica_ledger``.
"""

from replica_ledger.ped.document import Limits, PedDocument, PedValidationError, load_document

__all__ = ["Limits", "PedDocument", "PedValidationError", "load_document"]
