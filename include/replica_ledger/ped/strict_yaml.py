"""Strict, bounded YAML reading: exactly one document, UTF-8, no duplicate keys, and a size.

PyYAML's ``SafeLoader`` silently keeps the last of two equal keys; a PED file with
``maxReplicas`` written twice must be refused instead, so the loader here checks every
mapping as it is built.

Bounded: a text above MAX_DOCUMENT_BYTES is refused before it is parsed, and so is a
document whose values, with every alias expanded, number more than MAX_EXPANDED_NODES. An
alias costs PyYAML nothing (it shares the node), but every reader after it (the finite-number
walk, the schema) visits each expansion: a "billion laughs" of nine nested aliases is 10^9
values. The expanded size is counted on the composed nodes, once per distinct node, so the
check itself is linear in the text.
"""

from __future__ import annotations

import contextlib
import json

import yaml

# A PED document is a few hundred bytes and about twenty values.
MAX_DOCUMENT_BYTES = 16 * 1024
MAX_EXPANDED_NODES = 10_000
# PyYAML's scanner slows down with the square of the open flow collections (`[[[[...`): a
# few thousand take seconds. A PED document nests two or three.
MAX_FLOW_DEPTH = 64


class StrictYamlError(ValueError):
    """The text is not one clean YAML document; the message says why and where."""


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate keys instead of silently keeping the last one, and a
    document too large once its aliases are expanded."""

    def compose_document(self):
        node = super().compose_document()
        _check_expanded_size(node)
        return node


def _check_expanded_size(root: yaml.Node) -> None:
    """Refuse a document of more than MAX_EXPANDED_NODES values with its aliases expanded."""
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            raise StrictYamlError(
                f"an alias on line {node.start_mark.line + 1} refers to a value that contains it (a recursive value)"
            )
        open_nodes.add(key)
        total = 1
        if isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = node.value
        else:
            children = []
        for child in children:
            total += size(child)
            if total > MAX_EXPANDED_NODES:
                raise StrictYamlError(
                    f"more than {MAX_EXPANDED_NODES} values once its aliases are expanded (an alias bomb?); "
                    "a PED document has about twenty"
                )
        open_nodes.discard(key)
        sizes[key] = total
        return total

    size(root)


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


def _check_flow_depth(text: str) -> None:
    """Refuse `[` / `{` nested deeper than MAX_FLOW_DEPTH (quoted text and comments aside),
    before PyYAML's scanner sees it."""
    depth, quote, comment = 0, "", False
    for char in text:
        if comment:
            comment = char != "\n"
        elif quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#":
            comment = True
        elif char in "[{":
            depth += 1
            if depth > MAX_FLOW_DEPTH:
                raise StrictYamlError(f"not valid YAML: '[' and '{{' nested more than {MAX_FLOW_DEPTH} deep")
        elif char in "]}":
            depth = max(0, depth - 1)


def check_size(length: int) -> None:
    """Refuse a text of `length` bytes above MAX_DOCUMENT_BYTES (before it is read whole)."""
    if length > MAX_DOCUMENT_BYTES:
        raise StrictYamlError(
            f"the file is {length} bytes or more, above the {MAX_DOCUMENT_BYTES} bytes a PED document may have"
        )


def load_single_document(text: str | bytes):
    """The one YAML document in ``text``. Raises StrictYamlError (empty, too large, invalid,
    duplicates, an alias bomb)."""
    check_size(len(text.encode("utf-8", errors="surrogatepass") if isinstance(text, str) else text))
    text = _decode(text)
    if not text.strip():
        raise StrictYamlError("the file is empty")
    _check_flow_depth(text)
    try:
        documents = list(yaml.load_all(text, Loader=_StrictLoader))
    except RecursionError:
        raise StrictYamlError("not valid YAML: nested too deeply") from None
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
