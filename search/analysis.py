"""Text normalisation and tokenisation for search.

The same functions run on letters when they are indexed and on queries when they are
searched, so a query matches exactly the text it is a substring of:

1. **Normalise**: Unicode NFKC (this also turns full-width Latin letters, digits and
   punctuation into their half-width forms and the ideographic space into a space), case
   folding, then Traditional→Simplified folding character by character with OpenCC's
   character table. The folding is deliberately context-free: phrase-level conversion
   could fold a character differently inside a letter than inside a query, and a
   substring search must see the same characters in both.
2. **Tokenise** into *units*: a run of CJK characters (Han, kana, Hangul) becomes its
   overlapping character bigrams (``拖欠工资`` → ``拖欠 欠工 工资``); a run of one CJK
   character stays a single character; a run of letters and digits of any other script
   is one word. Punctuation and spaces only separate runs.
3. **Positions** are consecutive over the whole text: a phrase of bigrams matches exactly
   where the characters are adjacent, so a phrase query over bigrams is a substring search.

Every CJK character is also emitted once per document for the character field, which
answers one-character queries (see ``docs/search-threat-model.md`` for what that leaks).
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

#: Code point ranges treated as CJK: bigrams, not words.
_CJK_RANGES = (
    "\u2e80-\u2fdf"          # radicals
    "\u3005\u3007\u3021-\u3029\u3038-\u303b"  # 々 〇 Hangzhou numerals
    "\u3040-\u30ff"          # hiragana, katakana
    "\u3100-\u312f\u31a0-\u31bf"  # bopomofo
    "\u3400-\u4dbf"          # extension A
    "\u4e00-\u9fff"          # unified ideographs
    "\uac00-\ud7af"          # hangul syllables
    "\uf900-\ufaff"          # compatibility ideographs (NFKC maps most away)
    "\U00020000-\U0003134f"  # extensions B-H
)
_CJK = f"[{_CJK_RANGES}]"
#: One CJK run, or one word of letters/digits of any other script.
_UNIT_RE = re.compile(f"({_CJK}+)|([^\\W_{_CJK_RANGES}]+)")
_CJK_RE = re.compile(_CJK)

#: Code points whose Traditional forms OpenCC may fold (BMP CJK and extensions B-F).
_FOLD_RANGES = ((0x3400, 0x4DC0), (0x4E00, 0xA000), (0x20000, 0x2EBF0))


@lru_cache(maxsize=1)
def t2s_table() -> dict[int, str]:
    """Character-level Traditional→Simplified table, built once per process from OpenCC.

    Characters are converted one per line so no phrase rule spans two of them."""
    import opencc

    chars = [chr(c) for lo, hi in _FOLD_RANGES for c in range(lo, hi)]
    converted = opencc.OpenCC("t2s").convert("\n".join(chars)).split("\n")
    if len(converted) != len(chars):  # pragma: no cover - would mean OpenCC merged lines
        converted = [opencc.OpenCC("t2s").convert(c) for c in chars]
    return {ord(a): b for a, b in zip(chars, converted) if a != b and len(b) == 1}


def normalise(text: str) -> str:
    """NFKC, full-width→half-width, case folding, Traditional→Simplified."""
    return unicodedata.normalize("NFKC", text).casefold().translate(t2s_table())


def normalise_char(ch: str) -> str:
    return unicodedata.normalize("NFKC", ch).casefold().translate(t2s_table())


# -- units ----------------------------------------------------------------------
CJK = "cjk"      #: a run of two or more CJK characters: its bigrams
CHAR = "char"    #: a run of exactly one CJK character
WORD = "word"    #: letters and digits of other scripts


@dataclass(frozen=True)
class Unit:
    kind: str
    #: The positional tokens of the unit: bigrams, the one character, or the word.
    tokens: tuple[str, ...]
    #: Character offsets in the normalised text (end exclusive).
    start: int
    end: int


def units(norm: str) -> list[Unit]:
    """Split normalised text into units (see the module docstring)."""
    out: list[Unit] = []
    for m in _UNIT_RE.finditer(norm):
        run = m.group(1)
        if run is not None:
            if len(run) == 1:
                out.append(Unit(CHAR, (run,), m.start(), m.end()))
            else:
                out.append(Unit(CJK, tuple(run[i:i + 2] for i in range(len(run) - 1)), m.start(), m.end()))
        else:
            out.append(Unit(WORD, (m.group(2),), m.start(), m.end()))
    return out


@dataclass
class Analysed:
    """A document's terms: positional tokens in order, and its distinct CJK characters."""

    tokens: list[str]
    chars: set[str]


def analyse(text: str) -> Analysed:
    """Tokens (positions = list index) and distinct CJK characters of ``text``.

    This is the hot path of indexing, so it works on the regular expression's matches
    directly instead of building ``Unit`` objects."""
    norm = normalise(text)
    tokens: list[str] = []
    append = tokens.append
    extend = tokens.extend
    for run, word in _UNIT_RE.findall(norm):
        if run:
            n = len(run)
            if n == 1:
                append(run)
            elif n == 2:
                append(run)
            else:
                extend([run[i:i + 2] for i in range(n - 1)])
        else:
            append(word)
    return Analysed(tokens, set(_CJK_RE.findall(norm)))


def is_cjk(ch: str) -> bool:
    return bool(_CJK_RE.fullmatch(ch))


# -- offsets, for highlighting decrypted text ------------------------------------------
def normalise_with_offsets(text: str) -> tuple[str, list[int]]:
    """The normalised text and, for each of its characters, the offset in ``text`` of the
    character it came from (character by character, so offsets survive expansions)."""
    parts: list[str] = []
    origin: list[int] = []
    for i, ch in enumerate(text):
        n = normalise_char(ch) if ord(ch) > 0x7F else ch.lower()
        parts.append(n)
        origin.extend([i] * len(n))
    return "".join(parts), origin
