"""Slack's size limits, and how a report is fitted into them without losing anything.

* at most :data:`MAX_BLOCKS` (50) blocks per message;
* at most :data:`MAX_TEXT` (3,000) characters per text field (150 for the header);
* at most :data:`MAX_CONTEXT_ELEMENTS` (10) elements per context block.

What does not fit is never dropped silently: a field too long keeps whole lines and says how
many were left out (:func:`fit_lines`), a list of names says how many it could not name
(:func:`name_list`), and :func:`allocate_sections` shares the block budget among teams so
that every API is either shown in its own section or summarized in an overflow section.
"""

from __future__ import annotations

MAX_BLOCKS = 50
MAX_TEXT = 3000
MAX_HEADER_TEXT = 150
MAX_CONTEXT_ELEMENTS = 10


def clip(text: str, limit: int = MAX_TEXT, marker: str = " …(truncated)") -> str:
    """``text`` cut to at most ``limit`` characters, with a visible marker when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(marker))].rstrip() + marker


def fit_lines(lines: list[str], limit: int = MAX_TEXT) -> str:
    """``lines`` joined; when too long, as many whole lines as fit and how many were left out."""
    text = "\n".join(lines)
    if len(text) <= limit:
        return text
    kept: list[str] = []
    for i, line in enumerate(lines):
        tail = f"\n…and {len(lines) - i} more line(s) for this API."
        if len("\n".join([*kept, line])) + len(tail) > limit:
            return clip("\n".join(kept) + tail, limit)
        kept.append(line)
    return clip(text, limit)  # pragma: no cover - the loop returns once the text is too long


def name_list(prefix: str, names: list[str], limit: int = MAX_TEXT) -> str:
    """``prefix: a, b, c`` naming as many names as fit in one text field, counting the rest."""
    listed: list[str] = []
    for i, name in enumerate(names):
        rest = len(names) - i - 1
        candidate = f"{prefix}: " + ", ".join([*listed, name])
        tail = f" (and {rest} not named here)" if rest else ""
        if len(candidate) + len(tail) > limit:
            break
        listed.append(name)
    not_named = len(names) - len(listed)
    text = f"{prefix}: " + ", ".join(listed) if listed else prefix
    if not_named:
        text += f" (and {not_named} not named here)" if listed else f" ({not_named} not named here)"
    return clip(text, limit)


def allocate_sections(sizes: list[int], budget: int) -> tuple[int, list[int]]:
    """Share ``budget`` blocks among teams with ``sizes[i]`` API sections each.

    Costs: one header block per team shown, one block per API section, one overflow block
    per team shown partly, one global overflow block when some teams are not shown at all.
    Returns ``(teams_shown, sections_per_shown_team)``; teams are shown in the given order.
    """
    n = len(sizes)
    for shown in range(n, 0, -1):
        sub = sizes[:shown]
        room = budget - shown - (1 if shown < n else 0)
        if room < 0 or _cost(sub, 0) > room:
            continue
        if sum(sub) <= room:
            return shown, list(sub)
        return shown, _fill(sub, room)
    return 0, []


def _cost(sizes: list[int], level: int) -> int:
    """Blocks used when each team shows at most ``level`` sections (plus an overflow block if cut)."""
    return sum(min(s, level) for s in sizes) + sum(1 for s in sizes if s > level)


def _fill(sizes: list[int], room: int) -> list[int]:
    """Sections per team within ``room`` blocks: an equal level for all, then the spare blocks.

    Showing a team's last section frees its overflow block, so it costs nothing extra.
    """
    level = 0
    while level < max(sizes) and _cost(sizes, level + 1) <= room:
        level += 1
    alloc = [min(s, level) for s in sizes]
    spare = room - _cost(sizes, level)
    changed = True
    while changed:
        changed = False
        for i, size in enumerate(sizes):
            if alloc[i] < size:
                extra = 0 if alloc[i] + 1 == size else 1
                if extra <= spare:
                    alloc[i] += 1
                    spare -= extra
                    changed = True
    return alloc
