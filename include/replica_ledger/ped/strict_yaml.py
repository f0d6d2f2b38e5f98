"""Strict YAML reading: exactly one document, UTF-8, and no duplicate keys.

PyYAML's ``SafeLoader`` silently keeps the last of two equal keys; a PED file with
``maxReplicas`` written twice must be refused instead, so the loader here checks every
mapping as it is built.
"""

from __future__ import annotations

import contextlib
import json

import yaml


class StrictYamlError(ValueError):
    """The text is not one clean YAML document; the message says why and where."""


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys instead of silently keeping the last one."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False):
    loader.flatten_mapping(node)
    seen: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            duplicate = key in seen
        except TypeError:  # an unhashable key (a list): never equal to one seen as a dict key
            duplicate = False
        if duplicate:
            raise StrictYamlError(
                f"duplicate key {json.dumps(str(key))} on line {key_node.start_mark.line + 1} "
                f"(first on line {seen[key] + 1})"
            )
        with contextlib.suppress(TypeError):
            seen[key] = key_node.start_mark.line
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _decode(text: str | bytes) -> str:
    if isinstance(text, str):
        return text
    try:
        return text.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StrictYamlError(f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def load_single_document(text: str | bytes):
    """The one YAML document in ``text``. Raises StrictYamlError (empty, invalid, duplicates)."""
    text = _decode(text)
    if not text.strip():
        raise StrictYamlError("the file is empty")
    try:
        documents = list(yaml.load_all(text, Loader=_StrictLoader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise StrictYamlError(f"not valid YAML: {exc.problem}{where}") from None
    except yaml.YAMLError as exc:
        raise StrictYamlError(f"not valid YAML: {exc}") from None
    if not documents:
        raise StrictYamlError("the file is empty")
    if len(documents) != 1:
        raise StrictYamlError(f"expected exactly one YAML document, found {len(documents)}")
    return documents[0]
