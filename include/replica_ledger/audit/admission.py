"""The admission policies' verdict on a write, as the audit log records it.

With the `Audit` action, a write that failed a ValidatingAdmissionPolicy carries the audit
annotation `validation.policy.admission.k8s.io/validation_failure`: a JSON list of objects
{message, policy, binding, expressionIndex, validationActions}. Where it is:

- an upstream `audit.k8s.io/v1` Event: `annotations[<key>]`;
- a GKE Cloud Audit Logs `LogEntry`: GKE copies the Kubernetes audit annotations into the
  LogEntry's `labels` (`labels["authorization.k8s.io/decision"]` is the familiar one), so
  `labels[<key>]`, the same JSON text.

The text comes from the cluster and the policy's messageExpression: bounded here (the
annotation's size, the list's length, the message's length, control characters removed)
and neutralised again where it is shown (`safe_text`). An annotation that cannot be read
still says the write failed a policy: its text is then a fixed reason, never the raw value.
"""

from __future__ import annotations

import json
import re
from typing import Any

ANNOTATION = "validation.policy.admission.k8s.io/validation_failure"
# Beyond these the annotation is not parsed (a 16 KiB list holds far more than our two policies).
MAX_ANNOTATION_BYTES = 16 * 1024
MAX_FAILURES = 20
MAX_MESSAGE_CHARS = 300
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069]+")
_POLICY_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
UNREADABLE = "failed an admission policy (its audit annotation could not be read)"


def _clean(text: str, limit: int) -> str:
    text = " ".join(_CONTROL.sub(" ", text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def failure_text(value: Any, preferred: tuple[str, ...] = ()) -> str | None:
    """`<policy>: <message>` of the annotation's first failure (one of `preferred` policies
    first), None when there is no annotation, UNREADABLE when it is not what Kubernetes writes."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value.encode("utf-8", "replace")) > MAX_ANNOTATION_BYTES:
        return UNREADABLE
    try:
        failures = json.loads(value)
    except ValueError:
        return UNREADABLE
    if not isinstance(failures, list) or not failures:
        return UNREADABLE
    readable = [
        item
        for item in failures[:MAX_FAILURES]
        if isinstance(item, dict)
        and isinstance(item.get("policy"), str)
        and _POLICY_NAME.fullmatch(item["policy"])
        and isinstance(item.get("message", ""), str)
    ]
    if not readable:
        return UNREADABLE
    readable.sort(key=lambda item: item["policy"] not in preferred)
    first = readable[0]
    return f"{first['policy']}: {_clean(first.get('message') or 'failed', MAX_MESSAGE_CHARS)}"


def annotation_of(mapping: Any) -> Any:
    """The annotation's raw value in a LogEntry's `labels` or an Event's `annotations`."""
    return mapping.get(ANNOTATION) if isinstance(mapping, dict) else None
