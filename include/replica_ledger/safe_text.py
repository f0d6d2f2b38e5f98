"""Text from outside (a PED file, the audit log, a snapshot, a run id) made safe for where it goes.

Two destinations, one function each:

* :func:`for_slack`: a value put into Slack mrkdwn (a block's text or a message's top-level
  ``text``). Slack gives ``&``, ``<`` and ``>`` a meaning (``<!channel>``, ``<url|label>``) and
  documents escaping those three, and only those, as entities. It has no escape for the
  formatting characters ``*``, ``_``, ``~`` and the backtick: a backslash is shown as is, and
  a zero-width space next to one does not stop it, it is the documented way to *force*
  formatting inside a word. So each is replaced by a character of the same look that mrkdwn
  ignores (U+2217 asterisk operator, U+02CD modifier low macron, U+223C tilde operator, U+02CB
  modifier grave accent; the fullwidth forms too).
  One exception keeps names readable: underscores between two letters or digits
  (``replica_ledger_daily``, ``scheduled__2024``) stay, as mrkdwn opens and closes ``_italic_``
  only at a word boundary (and a value's own ends always count as one here).
  ``@channel``, ``@here`` and ``@everyone`` get a word joiner after the ``@`` so that no
  parsing mode turns them into a notification. A leading ``>`` (a quote at the start of a
  line) gets an invisible soft hyphen in front.
* :func:`for_terminal`: a value printed in a table cell (``make report``).

Both first remove what never belongs in one line of text: terminal escape sequences
(``ESC [ ... m``, ``ESC ] ... BEL``), control characters (a newline or a tab becomes a space,
so that a value can never start a line of its own), invisible format characters (bidi
overrides, zero-width spaces; the joiners and the soft hyphen are kept) and lone
surrogates; then cap the length, with an ellipsis, counted on the visible characters (an
entity is never cut in half).
"""

from __future__ import annotations

import re
import unicodedata

ELLIPSIS = "…"

#: Default cap of one value in Slack (a team, an API name, a principal, a user agent).
SLACK_MAX_CHARS = 200
#: Default cap of one table cell in the terminal.
TERMINAL_MAX_CHARS = 80

# ECMA-48: CSI (ESC [ or the 8-bit 0x9B) parameters, intermediates, final byte; OSC/DCS/PM/APC
# strings up to BEL or ST; any other two-character escape.
_ESCAPE_RE = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]?"
    r"|(?:\x1b[\]P^_X]|[\x90\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
)
_SPACE_LIKE = {"\t", "\n", "\r", "\v", "\f", "\x85", "\u2028", "\u2029"}
# Zero-width joiner (part of emoji sequences); word joiner and soft hyphen (what for_slack
# inserts, so that a second pass keeps them).
_KEEP_FORMAT = {"\u200d", "\u2060", "\u00ad"}
_WHITESPACE_RUN = re.compile(r" {2,}")

_SLACK_LOOKALIKE = str.maketrans(
    {
        "*": "\u2217",
        "\uff0a": "\ufe61",
        "_": "\u02cd",
        "\uff3f": "\u2e0f",
        "~": "\u223c",
        "\uff5e": "\u223c",
        "`": "\u02cb",
        "\uff40": "\u02cb",
    }
)
_FORMATTING_RUN = re.compile(r"[*_~`\uff0a\uff3f\uff5e\uff40]+")
_BROADCAST_RE = re.compile(r"@(?=(?:channel|here|everyone)\b)", re.IGNORECASE)


def one_line(value: object) -> str:
    """``value`` as one line: escape sequences and control/format characters removed,
    line breaks and tabs as single spaces, lone surrogates as U+FFFD, ends stripped."""
    text = _ESCAPE_RE.sub("", str(value))
    out = []
    for ch in text:
        if ch in _SPACE_LIKE:
            out.append(" ")
            continue
        category = unicodedata.category(ch)
        if category == "Cc" or (category == "Cf" and ch not in _KEEP_FORMAT):
            continue
        out.append("\ufffd" if category == "Cs" else ch)
    return _WHITESPACE_RUN.sub(" ", "".join(out)).strip()


def cap(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters, the last one an ellipsis when cut."""
    if limit < 1:
        raise ValueError(f"a length cap must be at least 1, got {limit}")
    if len(text) <= limit:
        return text
    return text[: limit - 1].rstrip() + ELLIPSIS


def for_slack(value: object, limit: int = SLACK_MAX_CHARS) -> str:
    """``value`` safe to put anywhere in Slack mrkdwn (see the module docstring)."""
    text = _FORMATTING_RUN.sub(_neutral_formatting, cap(one_line(value), limit))
    text = _BROADCAST_RE.sub("@\u2060", text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if text.startswith(("&gt;", "\uff1e")):
        text = "\u00ad" + text
    return text


def for_terminal(value: object, limit: int = TERMINAL_MAX_CHARS) -> str:
    """``value`` safe to print as one table cell: one line, no escape sequence, at most ``limit`` wide."""
    return cap(one_line(value), limit)


def _neutral_formatting(match: re.Match[str]) -> str:
    run, text, start, end = match.group(), match.string, match.start(), match.end()
    inside_word = start > 0 and end < len(text) and text[start - 1].isalnum() and text[end].isalnum()
    if inside_word and set(run) == {"_"}:
        return run
    return run.translate(_SLACK_LOOKALIKE)
