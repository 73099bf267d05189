"""The query language: lexing and parsing a query into a plain-text parse tree.

Syntax (English operators, any script in the text)::

    拖欠工資                 every letter containing the characters, in either script
    欠工  000元  14日  ack     any part of the text, in any script: a substring, exactly
                             (two characters or more: the pairs at consecutive positions;
                             one character: the letters holding it)
    "back pay" "3个月 内"     quoted phrases (spaces kept as one space, ignored next to CJK)
    拖欠 AND 工资 / OR / NOT  boolean operators (a space means AND; -word means NOT word)
    ( … )                    grouping
    status:registered channel:letter region:110108 category:labour_wages office:LDJC
    year:2026  year:2024..2026
    date:2026-03  date:2026-03-01..2026-03-31  date:..2026-03-31   (the office's local dates)

Prefix, wildcard and fuzzy queries (``工*``, ``工?``, ``pay~``) are refused with a clear
message: the index holds keyed hashes of whole terms, which cannot be matched by part.

``search.query`` filters, blinds and runs the tree.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from records.errors import Msg, ValidationError

MAX_QUERY = 500
MAX_CLAUSES = 40
MAX_DEPTH = 12

FILTER_NAMES = ("status", "channel", "region", "category", "office", "year", "date")
_ALIASES = {"received": "date"}

WILDCARD_MESSAGE = Msg(
    "Wildcards and prefix searches (* and ?) are not supported: the index stores keyed hashes of "
    "whole words and of pairs of characters, so it can only find exact words and exact runs of "
    "characters. Type the characters themselves: any part of the text is found as it is (欠工 "
    "finds 拖欠工資, 000元 finds 3000元). To search for a literal * or ?, put it in quotes.")
FUZZY_MESSAGE = Msg(
    "Fuzzy searches (~) are not supported: the index stores keyed hashes of whole terms, which "
    "cannot be compared for similarity. Type the exact word or characters.")


def query_error(message: str) -> ValidationError:
    """A query that cannot be read; ``message`` a literal msgid or a ``Msg``."""
    message = message if isinstance(message, Msg) else Msg(message)
    return ValidationError(message, fields={"q": message})


# -- the parse tree (plain text, before blinding) ------------------------------------------
@dataclass(frozen=True)
class PText:
    text: str


@dataclass(frozen=True)
class PFilter:
    name: str
    value: str


@dataclass(frozen=True)
class PBool:
    op: str  # "and" | "or"
    items: tuple


@dataclass(frozen=True)
class PNot:
    item: object


# -- lexing ----------------------------------------------------------------------------------
#: Characters that are punctuation in Chinese text although NFKC would turn them into
#: query syntax: full-width ？ ＊ ～ are held as private-use stand-ins while the query is
#: read, and searched as the ? * ~ the index holds for them (``LITERAL``).
_PRE = str.maketrans({"？": "\ue000", "＊": "\ue001", "～": "\ue002", "“": '"', "”": '"', "「": '"', "」": '"',
                      "『": '"', "』": '"', "＂": '"'})
LITERAL = str.maketrans({"\ue000": "?", "\ue001": "*", "\ue002": "~"})
_FIELD_RE = re.compile(r"^([A-Za-z_]+):(.*)$", re.DOTALL)
_FUZZY_RE = re.compile(r"~\d*(\.\d+)?$")


@dataclass
class _Tok:
    kind: str   # word, phrase, filter, and, or, not, lparen, rparen
    value: str = ""
    extra: str = ""


def _lex(text: str) -> list[_Tok]:
    text = unicodedata.normalize("NFKC", text.translate(_PRE))
    toks: list[_Tok] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
            continue
        if ch == "(":
            toks.append(_Tok("lparen"))
            i += 1
            continue
        if ch == ")":
            toks.append(_Tok("rparen"))
            i += 1
            continue
        if ch == '"':
            end = text.find('"', i + 1)
            if end < 0:
                raise query_error("A quotation mark is not closed.")
            toks.append(_Tok("phrase", text[i + 1:end]))
            i = end + 1
            continue
        j = i
        while j < n and not text[j].isspace() and text[j] not in '()"':
            j += 1
        word = text[i:j]
        # a filter's value may be quoted: status:"registered"
        if word.endswith(":") and j < n and text[j] == '"' and _FIELD_RE.match(word):
            end = text.find('"', j + 1)
            if end < 0:
                raise query_error("A quotation mark is not closed.")
            word = word + text[j + 1:end]
            j = end + 1
        i = j
        toks.append(_word_token(word))
    return toks


def _word_token(word: str) -> _Tok:
    if word in ("AND", "&&"):
        return _Tok("and")
    if word in ("OR", "||"):
        return _Tok("or")
    if word == "NOT":
        return _Tok("not")
    m = _FIELD_RE.match(word)
    if m and m.group(2):
        name = m.group(1).lower()
        name = _ALIASES.get(name, name)
        if name not in FILTER_NAMES:
            raise query_error(Msg("Unknown filter '%(name)s:'. Filters: %(filters)s. To search for the text "
                                  "itself, put it in quotes.", name=m.group(1)[:32],
                                  filters=", ".join(f"{f}:" for f in FILTER_NAMES)))
        if "*" in m.group(2) or "?" in m.group(2):
            raise query_error(WILDCARD_MESSAGE)
        return _Tok("filter", m.group(2), name)
    if word.startswith("-") and len(word) > 1 and not word[1:2].isdigit():
        inner = _word_token(word[1:])
        if inner.kind in ("word", "filter"):
            return _Tok("not_" + inner.kind, inner.value, inner.extra)
    if "*" in word or "?" in word:
        raise query_error(WILDCARD_MESSAGE)
    if _FUZZY_RE.search(word):
        raise query_error(FUZZY_MESSAGE)
    return _Tok("word", word)


# -- parsing ---------------------------------------------------------------------------------
class _Parser:
    def __init__(self, toks: list[_Tok]):
        self.toks = toks
        self.i = 0
        self.clauses = 0

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def parse(self):
        node = self.or_expr(0)
        if self.peek() is not None:
            tok = self.peek()
            raise query_error("A closing parenthesis has no opening one." if tok.kind == "rparen"
                           else "The query could not be read; check the operators and parentheses.")
        return node

    def or_expr(self, depth: int):
        items = [self.and_expr(depth)]
        while self.peek() is not None and self.peek().kind == "or":
            self.take()
            items.append(self.and_expr(depth))
            if items[0] is None or items[-1] is None:
                raise query_error("OR needs something on both sides.")
        items = [x for x in items if x is not None]
        if not items:
            return None
        return items[0] if len(items) == 1 else PBool("or", tuple(items))

    def and_expr(self, depth: int):
        items = []
        while True:
            tok = self.peek()
            if tok is None or tok.kind in ("or", "rparen"):
                break
            if tok.kind == "and":
                self.take()
                if self.peek() is None or self.peek().kind in ("or", "rparen", "and"):
                    raise query_error("AND needs something on both sides.")
                continue
            items.append(self.unary(depth))
        items = [x for x in items if x is not None]
        if not items:
            return None
        return items[0] if len(items) == 1 else PBool("and", tuple(items))

    def unary(self, depth: int):
        if depth > MAX_DEPTH:
            raise query_error("The query is nested too deeply.")
        tok = self.take()
        if tok.kind == "not":
            nxt = self.peek()
            if nxt is None or nxt.kind in ("or", "and", "rparen"):
                raise query_error("NOT needs something after it.")
            inner = self.unary(depth + 1)
            return PNot(inner) if inner is not None else None
        if tok.kind == "lparen":
            inner = self.or_expr(depth + 1)
            if self.peek() is None or self.peek().kind != "rparen":
                raise query_error("A parenthesis is not closed.")
            self.take()
            return inner
        if tok.kind == "rparen":
            raise query_error("A closing parenthesis has no opening one.")
        if tok.kind == "or":
            raise query_error("OR needs something on both sides.")
        self.clauses += 1
        if self.clauses > MAX_CLAUSES:
            raise query_error(Msg("The query has too many parts (at most %(n)s).", n=MAX_CLAUSES))
        if tok.kind in ("word", "phrase"):
            return PText(tok.value)
        if tok.kind == "filter":
            return PFilter(tok.extra, tok.value)
        if tok.kind == "not_word":
            return PNot(PText(tok.value))
        if tok.kind == "not_filter":
            return PNot(PFilter(tok.extra, tok.value))
        raise query_error("The query could not be read.")  # pragma: no cover


def parse(text: str):
    """The parse tree of a query (None for an empty query)."""
    if not isinstance(text, str):
        raise query_error("The query must be text.")
    if len(text) > MAX_QUERY:
        raise query_error(Msg("The query is too long (at most %(n)s characters).", n=MAX_QUERY))
    if any(unicodedata.category(c) == "Cc" and c not in "\t\n\r" for c in text):
        raise query_error("The query contains control characters.")
    return _Parser(_lex(text)).parse()
