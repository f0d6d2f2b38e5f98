"""Validation messages: JSON Schema errors turned into ``<field path>: <message>`` for people.

Messages name the field as written in the PED file (``spec.maxReplicas``), show the wrong
value as YAML would (``.nan``, ``12``, ``the string "4"``), and come in document order, one
per problem: when a field fails several checks, only the one that explains it best is kept.
"""

from __future__ import annotations

import difflib
import json
import math
from datetime import date, datetime

# Document order of the known fields; messages are sorted by it.
_FIELD_ORDER = [
    "document",
    "apiVersion",
    "kind",
    "action",
    "reason",
    "metadata",
    "metadata.namespace",
    "metadata.name",
    "metadata.team",
    "spec",
    "spec.minReplicas",
    "spec.maxReplicas",
    "spec.resources",
    "spec.resources.cpu",
    "spec.resources.memoryGb",
]
_RANK = {name: rank for rank, name in enumerate(_FIELD_ORDER)}

#: What the PED schema's FREE_TEXT pattern (team, reason, changed_by) refuses.
FREE_TEXT_RULE = "must not contain '<', '>' or control characters (line breaks, tabs, escape sequences)"
_PATTERN_HINTS = {
    "metadata.team": "is not a valid team: it " + FREE_TEXT_RULE,
    "reason": "is not a valid reason: it " + FREE_TEXT_RULE,
    "metadata.namespace": (
        "is not a valid namespace: it must be a DNS-1123 label "
        "(lowercase letters, digits and '-', starting and ending with a letter or digit)"
    ),
    "metadata.name": (
        "is not a valid Deployment name: it must be a DNS-1123 subdomain (lowercase letters, "
        "digits, '-' and '.', each dot-separated part starting and ending with a letter or digit)"
    ),
}
_LENGTH_WHAT = {
    "metadata.namespace": "a namespace (DNS-1123 label)",
    "metadata.name": "a Deployment name (DNS-1123 subdomain)",
    "metadata.team": "a team",
    "reason": "a reason",
}
_TYPE_NAMES = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "object": "a mapping",
    "array": "a list",
    "boolean": "a boolean",
}

# When a field fails several checks, keep the one that explains it best.
_SHADOWED_BY = {
    "minimum": ("exclusiveMinimum",),
    "pattern": ("minLength",),
}

# (field path, check that failed, message)
Finding = tuple[str, str, str]


def fmt_number(value) -> str:
    """12 -> '12', 16.0 -> '16', 0.1 -> '0.1', nan -> '.nan' (as YAML writes it)."""
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        if value.is_integer():
            return str(int(value))
    return repr(value)


def describe(value) -> str:
    """How a wrong value is shown in a message."""
    if value is None:
        return "null (an empty value)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        return fmt_number(value)
    if isinstance(value, str):
        return f"the string {json.dumps(value)}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, datetime | date):
        return f"a date ({value.isoformat()})"
    return f"a {type(value).__name__}"


def _shown(value) -> str:
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return fmt_number(value)
    return describe(value)


def field_path(parts) -> str:
    """('spec', 'maxReplicas') -> 'spec.maxReplicas'; list indexes as [i]; () -> 'document'."""
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text or "document"


def _join(path: str, key) -> str:
    return str(key) if path == "document" else f"{path}.{key}"


def _unknown_fields(path: str, error) -> list[Finding]:
    known = list(error.schema.get("properties", {}))
    out = []
    for key in error.instance:
        if key in known:
            continue
        hint = difflib.get_close_matches(str(key), known, n=1)
        message = "unknown field" + (f" (did you mean {hint[0]!r}?)" if hint else "")
        out.append((_join(path, key), "additionalProperties", message))
    return out


def _bound_message(path: str, keyword: str, value, expected) -> str | None:
    scope = "configured" if path.startswith("spec.resources.") else "platform"
    if keyword == "maximum":
        return f"{fmt_number(value)} is above the {scope} maximum {fmt_number(expected)}"
    if keyword == "minimum":
        return f"{fmt_number(value)} is below the {scope} minimum {fmt_number(expected)}"
    if keyword == "exclusiveMinimum":
        return f"{fmt_number(value)} must be positive"
    return None


def _text_message(path: str, keyword: str, value, expected) -> str | None:
    if keyword == "pattern":
        hint = _PATTERN_HINTS.get(path, f"does not match {expected}")
        return f"{json.dumps(value)} {hint}"
    if keyword == "maxLength":
        what = _LENGTH_WHAT.get(path, "this field")
        return f"is {len(value)} characters long; {what} is at most {expected}"
    if keyword == "minLength":
        return "must not be empty"
    return None


def _value_message(path: str, keyword: str, value, expected) -> str | None:
    if keyword == "type":
        return f"expected {_TYPE_NAMES.get(expected, expected)}, got {describe(value)}"
    if keyword == "const":
        return f"{_shown(value)} is not supported; expected {json.dumps(expected)}"
    if keyword == "enum":
        options = ", ".join(json.dumps(option) for option in expected)
        what = "action" if path == "action" else "value"
        return f"{_shown(value)} is not a valid {what}; expected one of {options}"
    return _bound_message(path, keyword, value, expected) or _text_message(path, keyword, value, expected)


def translate(error) -> list[Finding]:
    """One jsonschema error -> its findings (a ``required`` error names each missing field)."""
    path = field_path(error.absolute_path)
    keyword = error.validator
    value = error.instance
    expected = error.validator_value
    if keyword == "required":
        return [
            (_join(path, name), keyword, "required field is missing")
            for name in expected
            if isinstance(value, dict) and name not in value
        ]
    if keyword == "additionalProperties":
        return _unknown_fields(path, error)
    message = _value_message(path, keyword, value, expected)
    return [(path, keyword, message if message is not None else error.message)]


def non_finite(node, parts=()) -> list[Finding]:
    """A finding for every NaN or infinity anywhere in the parsed document."""
    out = []
    if isinstance(node, float) and not math.isfinite(node):
        out.append((field_path(parts), "finite", f"must be a finite number, got {fmt_number(node)}"))
    elif isinstance(node, dict):
        for key, child in node.items():
            out.extend(non_finite(child, (*parts, key)))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            out.extend(non_finite(child, (*parts, index)))
    return out


def drop_shadowed(findings: list[Finding]) -> list[Finding]:
    """Of several failed checks on one field, drop those a better one explains."""
    by_path: dict[str, set[str]] = {}
    for path, keyword, _ in findings:
        by_path.setdefault(path, set()).add(keyword)
    return [item for item in findings if not any(s in by_path[item[0]] for s in _SHADOWED_BY.get(item[1], ()))]


def _sort_key(item: Finding):
    """Document order; an unknown field right after its known siblings and their children."""
    path = item[0]
    if path in _RANK:
        return (_RANK[path], 0, path, item[2])
    parent = path.rsplit(".", 1)[0] if "." in path else "document"
    while parent not in _RANK and "." in parent:
        parent = parent.rsplit(".", 1)[0]
    if parent not in _RANK:
        parent = "document"
    prefix = "" if parent == "document" else parent + "."
    last = max(rank for name, rank in _RANK.items() if name == parent or name.startswith(prefix))
    return (last, 1, path, item[2])


def error_lines(findings: list[Finding]) -> list[str]:
    """Unique findings in document order, as ``path: message``."""
    return [f"{path}: {message}" for path, _, message in sorted(set(findings), key=_sort_key)]
