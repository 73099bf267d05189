"""Text normalisation and tokenisation for search (token scheme 2).

The same functions run on letters when they are indexed, on queries when they are searched
and on decrypted hits when they are highlighted, so a query matches exactly the text it is
a substring of:

1. **Normalise**: Unicode NFKC (full-width Latin letters, digits and punctuation become
   half-width, the ideographic space a space), case folding, then variant folding: every
   character to the representative of its class over the union of OpenCC's
   Traditional↔Simplified mappings (``search.variants``), so 覆/复, 著/着, 乾/干, 裡/里 …
   are one character to the index, in either direction and whatever the phrase around it.
2. **Stream**: each field (subject, body, notes; joined with ``FIELD_BREAK``) becomes one
   string of searchable characters: invisible format and control characters are dropped,
   whitespace next to a CJK character is dropped (it is typographic: ``共 3 次`` is
   ``共3次``), and any other run of whitespace is one space. Every other character —
   CJK, digits, letters of any script, punctuation — is kept as written.
3. **Tokens**: the overlapping pairs of adjacent characters of each field's stream, whatever
   their script (``在2025年`` → ``在2 20 02 25 5年``), with consecutive positions over the
   whole text. A substring of two characters or more of a field is exactly a run of its
   pairs at consecutive positions, so a phrase query over pairs is an exact substring
   search: ``000元`` finds ``3000元``, ``14日`` only ``14日``, ``號樓1`` finds
   ``号楼1301``. No pair spans two fields.
4. **Characters**: every distinct character of the streams (not the space) is also emitted
   once per document for the character field, which answers one-character queries.

``SCHEME`` names this scheme; an index records the scheme it was built with and is refused
(with a message asking for ``xinfang search reindex``) when it differs. What the tokens
cost and leak is in ``docs/search-threat-model.md``.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from .variants import fold_table

#: The token scheme: 1 = CJK bigrams + whole words with a character-by-character t2s fold;
#: 2 = pairs of every adjacent character of the stream, variant classes (this module).
SCHEME = 2
#: Joins the fields of a letter: no pair is made across it.
FIELD_BREAK = "\x1e"

#: Code point ranges treated as CJK (next to them whitespace is not significant).
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
    "\u3000-\u303f\uff00-\uffef"  # CJK punctuation and forms left after NFKC (、。「」…)
)
_CJK = f"[{_CJK_RANGES}]"
_CJK_RE = re.compile(_CJK)
#: Invisible characters dropped from the stream: controls (not whitespace), format
#: characters (zero-width space and joiners, BOM, bidi marks), soft hyphen.
_DROP_RANGES = ((0x00, 0x08), (0x0E, 0x1D), (0x1F, 0x1F), (0x7F, 0x9F), (0xAD, 0xAD), (0x200B, 0x200F),
                (0x202A, 0x202E), (0x2060, 0x2064), (0xFEFF, 0xFEFF))
#: The same characters as a set (highlighting tests a run's characters one at a time).
_DROP = frozenset(chr(c) for lo, hi in _DROP_RANGES for c in range(lo, hi + 1))
#: The same characters as the body of a regular expression's character class.
_DROP_CLASS = "".join(re.escape(chr(lo)) + (f"-{re.escape(chr(hi))}" if hi > lo else "") for lo, hi in _DROP_RANGES)
_DROP_RE = re.compile(f"[{_DROP_CLASS}]")
_WS_NEXT_TO_CJK_RE = re.compile(rf"\s+(?={_CJK})|(?<={_CJK})\s+")
_WS_RE = re.compile(r"\s+")


def normalise(text: str) -> str:
    """NFKC, full-width→half-width, case folding, variant folding."""
    return unicodedata.normalize("NFKC", text).casefold().translate(fold_table())


def normalise_char(ch: str) -> str:
    """``normalise`` of one character (highlighting's, kept by ``_CharTable``)."""
    return unicodedata.normalize("NFKC", ch).casefold().translate(fold_table())


def _field_stream(norm: str) -> str:
    """The searchable string of one normalised field (see the module docstring, step 2)."""
    s = _DROP_RE.sub("", norm)
    s = _WS_NEXT_TO_CJK_RE.sub("", s)
    return _WS_RE.sub(" ", s).strip(" ")


def streams(text: str) -> list[str]:
    """The searchable string of each field of ``text`` (fields joined by ``FIELD_BREAK``)."""
    return [_field_stream(part) for part in normalise(text).split(FIELD_BREAK)]


def query_stream(text: str) -> str:
    """The searchable string of one query term (a word or a quoted phrase)."""
    return _field_stream(normalise(text.replace(FIELD_BREAK, " ")))


def pairs(stream: str) -> list[str]:
    """The overlapping pairs of adjacent characters of one stream (none for one character)."""
    return [stream[i:i + 2] for i in range(len(stream) - 1)]


@dataclass
class Analysed:
    """A document's terms: positional tokens in order, and its distinct characters."""

    tokens: list[str]
    chars: set[str]


#: Separates a letter's own fields from the text extracted from its attachments (appended
#: by the indexer). The attachments' pairs and characters are emitted twice: as themselves
#: (a plain search finds them) and prefixed with ``ATTACHMENT_TAG`` (a search "in
#: attachments" blinds its terms with the tag, so it matches only there).
ATTACHMENTS_BREAK = "\x1d"
ATTACHMENT_TAG = "\x1d"


def _analyse_into(text: str, tokens: list[str], chars: set[str]) -> None:
    for s in streams(text):
        if len(s) > 1:
            tokens.extend([s[i:i + 2] for i in range(len(s) - 1)])
        chars.update(s)
    chars.discard(" ")


def analyse(text: str) -> Analysed:
    """Tokens (position = list index) and distinct characters of ``text`` (and, after
    ``ATTACHMENTS_BREAK``, of its attachments: plain, then tagged)."""
    own, _, attached = text.partition(ATTACHMENTS_BREAK)
    tokens: list[str] = []
    chars: set[str] = set()
    _analyse_into(own, tokens, chars)
    if attached:
        att_tokens: list[str] = []
        att_chars: set[str] = set()
        _analyse_into(attached, att_tokens, att_chars)
        tokens.extend(att_tokens)
        tokens.extend(ATTACHMENT_TAG + t for t in att_tokens)
        chars |= att_chars | {ATTACHMENT_TAG + c for c in att_chars}
    return Analysed(tokens, chars)


# -- offsets, for highlighting decrypted text ------------------------------------------
class _CharTable(dict):
    """Code point -> its normalisation one character at a time (ASCII lower-cased), for
    ``str.translate``: a character met before is looked up in C, a new one computed once.
    ``expanding`` holds the characters whose normalisation is not exactly one character
    (``㎏`` -> ``kg``)."""

    LIMIT = 1 << 16

    def __init__(self):
        super().__init__()
        self.expanding: set[str] = set()

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        n = normalise_char(ch) if code > 0x7F else ch.lower()
        if len(n) != 1:
            self.expanding.add(ch)
        if len(self) >= self.LIMIT:   # text of very many distinct characters: start afresh
            self.clear()
        self[code] = n
        return n


_CHARS = _CharTable()
#: A run of characters the stream drops or shrinks: whitespace and invisible characters.
_SPECIAL_RE = re.compile(rf"[\s{_DROP_CLASS}]+")


def stream_with_offsets(text: str) -> tuple[str, list[int]]:
    """The searchable string of ``text`` (one field) and, for each of its characters, the
    offset in ``text`` of the character it came from (normalised character by character, so
    offsets survive expansions such as ``㎏`` -> ``kg``).

    The stream's rule (``_field_stream``) applied to runs: characters that are neither
    whitespace nor invisible are kept as they are; a run of whitespace and invisible
    characters becomes one space (at its first whitespace character) when it holds
    whitespace and the characters on either side are kept and not CJK, else nothing.
    Highlighting maps every character of every hit shown, so this is done with
    ``str.translate`` and a regular expression, not character by character in Python:
    letters of 370 characters 140 -> 48 µs each (``benchmarks/README.md``, session 28)."""
    norm = text.translate(_CHARS)
    if _CHARS.expanding.isdisjoint(text):   # one character each: an offset is its own
        origin: list[int] | range = range(len(text))
    else:
        origin = [i for i, ch in enumerate(text) for _ in range(len(_CHARS[ord(ch)]))]
    kept: list[str] = []
    offsets: list[int] = []
    pos, last = 0, ""
    for m in _SPECIAL_RE.finditer(norm):
        start, end = m.span()
        if start > pos:
            kept.append(norm[pos:start])
            offsets.extend(origin[pos:start])
            last = norm[start - 1]
        pos = end
        if not last or end == len(norm):   # at either end of the text: nothing
            continue
        run = m.group()
        space = start if run == " " else next(
            (start + k for k, c in enumerate(run) if c not in _DROP and c.isspace()), None)
        if space is not None and not _CJK_RE.match(last) and not _CJK_RE.match(norm[end]):
            kept.append(" ")
            offsets.append(origin[space])
    if pos < len(norm):
        kept.append(norm[pos:])
        offsets.extend(origin[pos:])
    return "".join(kept), offsets
