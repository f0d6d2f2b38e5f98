"""Block Kit: the blocks of our messages, built with slack_sdk's typed models.

slack_sdk's models (``slack_sdk.models.blocks``) check Slack's own field limits when a block
is serialized (``to_dict()`` runs ``validate_json()``), so a block Slack would refuse fails
here, with slack_sdk's message, instead of in Slack's answer. Payloads stay plain dicts (what
is hashed, written to the outbox and posted).

slack_sdk is imported inside the functions: DAG files import ``replica_ledger.alerts`` while
Airflow parses them.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from replica_ledger.alerts.budget import MAX_BLOCKS, MAX_CONTEXT_ELEMENTS, MAX_HEADER_TEXT, clip
from replica_ledger.safe_text import SLACK_MAX_CHARS, for_slack, one_line

# What a URL keeps as is inside ``<url|label>``: RFC 3986's reserved and unreserved characters
# and ``%``; ``<``, ``>``, ``|``, quotes, spaces and anything else are percent-encoded, so that a
# name in a URL (the PED page of ``namespace/deployment``) can never close the link.
_URL_SAFE = ":/?#[]@!$&'()*+,;=-._~%"


def escape_mrkdwn(value: object, limit: int = SLACK_MAX_CHARS) -> str:
    """A value from outside as Slack text: :func:`replica_ledger.safe_text.for_slack`."""
    return for_slack(value, limit)


def link(url: str | None, label: str) -> str:
    """A mrkdwn link ``<url|label>`` (``label`` is raw text, neutralised here), or the label
    alone when there is no URL."""
    if not url:
        return for_slack(label)
    safe_url = quote(one_line(url), safe=_URL_SAFE).replace("&", "&amp;")
    return f"<{safe_url}|{for_slack(label)}>"


def header_block(text: str) -> dict[str, Any]:
    """A header block (plain text, emoji shortcodes rendered), clipped to Slack's 150 characters."""
    from slack_sdk.models.blocks import HeaderBlock, PlainTextObject

    return HeaderBlock(text=PlainTextObject(text=clip(text, MAX_HEADER_TEXT, "…"), emoji=True)).to_dict()


def section_block(mrkdwn: str) -> dict[str, Any]:
    """A section block with one mrkdwn text, clipped to Slack's 3,000 characters."""
    from slack_sdk.models.blocks import MarkdownTextObject, SectionBlock

    return SectionBlock(text=MarkdownTextObject(text=clip(mrkdwn))).to_dict()


def context_block(mrkdwn_texts: list[str]) -> dict[str, Any]:
    """A context block with one mrkdwn element per text (at most Slack's 10)."""
    from slack_sdk.models.blocks import ContextBlock, MarkdownTextObject

    elements = [MarkdownTextObject(text=clip(t)) for t in mrkdwn_texts[:MAX_CONTEXT_ELEMENTS]]
    return ContextBlock(elements=elements).to_dict()


def message_payload(fallback_text: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """A message payload ``{"text", "blocks"}``; the text is what notifications show.

    ``fallback_text`` is mrkdwn too: every value in it from outside must already have gone
    through :func:`escape_mrkdwn`. It is kept to one line here as a second line of defence.
    """
    if len(blocks) > MAX_BLOCKS:
        raise ValueError(f"a Slack message holds at most {MAX_BLOCKS} blocks, got {len(blocks)}")
    return {"text": clip(one_line(fallback_text)), "blocks": blocks}
