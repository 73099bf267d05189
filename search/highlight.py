"""Highlighting, done on decrypted text for authorised hits only (never stored).

Matches are found in the same searchable string the index is built from
(``analysis.stream_with_offsets``: the same normalisation, variant folding and whitespace
rule), so what is marked is exactly what matched, in either script and whichever variant
was typed; offsets are mapped back to the letter's own characters, so the passage is shown
as it was written.
"""
from __future__ import annotations

from markupsafe import Markup, escape

from . import analysis

#: Characters of context shown around the first match in a passage.
WINDOW = 110


def spans(text: str, terms) -> list[tuple[int, int]]:
    """Merged (start, end) ranges of ``text`` where the query's terms occur."""
    if not text or not terms.needles:
        return []
    stream, origin = analysis.stream_with_offsets(text)
    found: list[tuple[int, int]] = []
    for needle in terms.needles:
        start = stream.find(needle)
        while start >= 0:
            found.append((origin[start], origin[start + len(needle) - 1] + 1))
            start = stream.find(needle, start + 1)
    if not found:
        return []
    found.sort()
    merged = [found[0]]
    for s, e in found[1:]:
        if s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def _render(text: str, ranges: list[tuple[int, int]], lo: int, hi: int) -> Markup:
    parts = []
    pos = lo
    for s, e in ranges:
        if e <= lo or s >= hi:
            continue
        s, e = max(s, lo), min(e, hi)
        parts.append(escape(text[pos:s]))
        parts.append(Markup("<mark>") + escape(text[s:e]) + Markup("</mark>"))
        pos = e
    parts.append(escape(text[pos:hi]))
    return Markup("").join(parts)


def mark(text: str, terms) -> Markup:
    """The whole (short) text, HTML-escaped, with every match in <mark>."""
    return _render(text or "", spans(text or "", terms), 0, len(text or ""))


def snippet(text: str, terms, window: int = WINDOW) -> Markup:
    """A passage around the first match (or the start of the text), HTML-escaped, with the
    matches in <mark> and an ellipsis where the text was cut."""
    text = " ".join((text or "").split())  # one line: line breaks mean nothing in a passage
    if not text:
        return Markup("")
    ranges = spans(text, terms)
    if ranges:
        first = ranges[0][0]
        lo = max(0, first - window // 4)
    else:
        lo = 0
    hi = min(len(text), lo + window)
    lo = max(0, min(lo, hi - window))
    body = _render(text, ranges, lo, hi)
    return (Markup("…") if lo > 0 else Markup("")) + body + (Markup("…") if hi < len(text) else Markup(""))
