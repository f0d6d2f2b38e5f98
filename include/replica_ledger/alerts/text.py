"""A Slack message as plain text: what the outbox ``.txt`` shows a person reading it locally.

mrkdwn is undone (links become ``label (url)``, ``*bold*``/``_italic_``/backticks are dropped,
entities unescaped); each block becomes a paragraph.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

from replica_ledger.safe_text import one_line

if TYPE_CHECKING:
    from replica_ledger.alerts.render import RoutedMessage

_LINK_RE = re.compile(r"<([^|<>]+)\|([^<>]+)>")


def plain(mrkdwn: str) -> str:
    """``mrkdwn`` as plain text."""
    text = _LINK_RE.sub(lambda m: f"{m.group(2)} ({m.group(1)})", mrkdwn)
    text = re.sub(r"\*([^*\n]+)\*", r"\1", text)
    text = re.sub(r"(?<!\w)_([^_\n]+)_(?!\w)", r"\1", text)
    text = text.replace("`", "")
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def block_text(block: dict[str, Any]) -> str:
    """One Block Kit block (as a dict) as plain text; an unknown kind as its JSON."""
    kind = block.get("type")
    if kind == "header":
        title = block["text"]["text"]
        return f"{title}\n{'=' * min(len(title), 80)}"
    if kind == "section":
        parts = [plain(block["text"]["text"])] if block.get("text") else []
        parts += [plain(f.get("text", "")) for f in block.get("fields", [])]
        return "\n".join(parts)
    if kind == "context":
        return "  ".join(plain(e["text"]) for e in block.get("elements", []) if "text" in e)
    if kind == "divider":
        return "-" * 40
    return json.dumps(block, sort_keys=True)


def render_text(payload: dict[str, Any] | RoutedMessage) -> str:
    """A readable plain-text rendering of a Slack payload, or of a routed message with its
    route and run above it."""
    if not isinstance(payload, dict):
        return _routed_message_text(payload)
    blocks = payload.get("blocks") or []
    if not blocks:
        return str(payload.get("text", "")) + "\n"
    return "\n\n".join(block_text(b) for b in blocks) + "\n"


def _routed_message_text(msg: RoutedMessage) -> str:
    # The outbox file is read in a terminal: the run id (a manual run's is typed by a person)
    # and the route's names stay on their line, without escape sequences.
    channel = f", channel {one_line(msg.route.channel)}" if msg.route.channel else ""
    head = [
        f"route: {one_line(msg.route.key)} (connection {one_line(msg.route.slack_conn_id)}{channel})",
        f"dag: {one_line(msg.dag_id)}  run: {one_line(msg.run_id)}  snapshot date: {msg.snapshot_date.isoformat()}",
        "",
    ]
    return "\n".join(head) + render_text(msg.payload)
