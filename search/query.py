"""Running a search for one user: the query's filters, blinding, the backend, the access
check on every hit. The language (``search.syntax``)::

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

A search re-checks ``policy.can(user, VIEW_CONTENT, record)`` on every hit, decrypts only
the hits that pass, and audits which records' passages were shown (never the query text).
"""
from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from records import audit, policy
from records.cases import operations
from records.cases.declarations import STATES
from records.intake import operations as intake
from records.reference.vocab import CHANNELS
from records.errors import Codes, FieldName, Msg, ValidationError
from records.instance import instance_of
from records.models import Record, RecordExclusion
from records.accounts.models import User

from . import analysis, highlight
from .interface import (
    FACETS, SORTS, Access, And, CharTerm, Everything, Match, Node, Not, Or, Phrase, Range,
)
from .blind import Blinder
from .syntax import (  # noqa: F401 - the parse tree and parse() are part of this module's interface
    FILTER_NAMES, LITERAL, MAX_QUERY, PBool, PFilter, PNot, PText, parse, query_error,
)

log = logging.getLogger("xinfang.search")

MAX_PER_PAGE = 100


# -- filters -----------------------------------------------------------------------------
def known_statuses() -> tuple[str, ...]:
    """The workflow's states (``records.cases.declarations.STATES``)."""
    return tuple(STATES)


def _parse_day(value: str, *, end: bool) -> dt.date:
    """2026, 2026-03 or 2026-03-01; the first (or, with ``end``, the last) day it names."""
    m = re.fullmatch(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?", value)
    if not m:
        raise ValueError(value)
    year, month, day = int(m.group(1)), m.group(2), m.group(3)
    if day is not None:
        return dt.date(year, int(month), int(day))
    if month is not None:
        first = dt.date(year, int(month), 1)
        if not end:
            return first
        nxt = dt.date(year + (first.month == 12), first.month % 12 + 1, 1)
        return nxt - dt.timedelta(days=1)
    return dt.date(year, 12, 31) if end else dt.date(year, 1, 1)


def _day_start(day: dt.date, tz: ZoneInfo) -> int:
    return int(dt.datetime.combine(day, dt.time(0), tzinfo=tz).timestamp())


#: Dates a search may name (letters are received in these years; beyond, time arithmetic overflows).
DATE_MIN, DATE_MAX = dt.date(1900, 1, 1), dt.date(2199, 12, 31)


def date_range(low: dt.date | None, high: dt.date | None, tz: ZoneInfo) -> Range:
    """Received between two local dates, inclusive."""
    for day in (low, high):
        if day is not None and not DATE_MIN <= day <= DATE_MAX:
            message = Msg("Dates run from %(low)s to %(high)s.", low=DATE_MIN.isoformat(), high=DATE_MAX.isoformat())
            raise ValidationError(message, fields={"q": message, "date": message})
    lo = _day_start(low, tz) if low else None
    hi = _day_start(high + dt.timedelta(days=1), tz) - 1 if high else None
    return Range("received", lo, hi)


def filter_node(name: str, value: str, tz: ZoneInfo) -> Node:
    """One filter as a query node; ValidationError naming the filter when the value is bad."""
    value = value.strip()

    def bad(message) -> ValidationError:
        message = message if isinstance(message, Msg) else Msg(message)
        named = Msg("%(filter)s: %(message)s", filter=FieldName(name), message=message)
        return ValidationError(named, fields={"q": named, name: message})

    if name == "status":
        states = known_statuses()
        if not re.fullmatch(r"[a-z_]{1,32}", value) or value not in states:
            raise bad(Msg("Unknown status. Use one of: %(codes)s.", codes=Codes(states)))
        return Match("status", value)
    if name == "channel":
        if value not in CHANNELS:
            raise bad(Msg("Unknown channel. Use one of: %(codes)s.", codes=Codes(CHANNELS)))
        return Match("channel", value)
    if name == "category":
        # the bureau's vocabulary is data (records.reference.categories): the code's form is checked here
        if not re.fullmatch(r"[a-z][a-z0-9_]{1,31}", value):
            raise bad("A category is its code, e.g. policy_consultation.")
        return Match("category", value)
    if name == "region":
        if not re.fullmatch(r"\d{6}", value):
            raise bad("A region is a 6-digit code, e.g. 110108.")
        return Match("region", value)
    if name == "office":
        if not re.fullmatch(r"[A-Za-z0-9-]{1,32}", value):
            raise bad("An office is its code, e.g. LDJC.")
        return Match("office", value.upper())
    if name == "year":
        m = re.fullmatch(r"(\d{4})?(\.\.)?(\d{4})?", value)
        if not value or not m or (m.group(2) is None and m.group(3) is not None):
            raise bad("A year is like 2026, or a range like 2024..2026.")
        lo = int(m.group(1)) if m.group(1) else None
        hi = int(m.group(3)) if m.group(3) else (lo if m.group(2) is None else None)
        if lo is not None and hi is not None and lo > hi:
            raise bad("The range starts after it ends.")
        return Match("year", lo) if m.group(2) is None else Range("year", lo, hi)
    if name == "date":
        low_s, sep, high_s = value.partition("..")
        try:
            low = _parse_day(low_s, end=False) if low_s else None
            high = _parse_day(high_s if sep else low_s, end=True) if (high_s or not sep) else None
        except ValueError:
            raise bad("Use a date like 2026-03-01, a month like 2026-03, a year, or a range a..b.") from None
        if low is None and high is None:
            raise bad("Give at least one end of the range.")
        if low and high and low > high:
            raise bad("The range starts after it ends.")
        return date_range(low, high, tz)
    raise bad("Unknown filter.")  # pragma: no cover


#: Form and API parameters that are filters, and the query filter each one means.
PARAM_FILTERS = ("status", "channel", "region", "category", "office", "year")


def filters_from_params(params, tz: ZoneInfo) -> tuple[list[Node], dict[str, str]]:
    """Filters given as separate parameters (the search form, the API): nodes, and the
    values that were applied (to show them back)."""
    nodes, applied = [], {}
    for name in PARAM_FILTERS:
        value = params.get(name)
        if value in (None, ""):
            continue
        if not isinstance(value, str) or len(value) > 40:
            raise ValidationError(Msg("%(filter)s: %(message)s", filter=FieldName(name), message=Msg("Invalid value.")),
                                  fields={name: "Invalid value."})
        nodes.append(filter_node(name, value, tz))
        applied[name] = value
    low, high = params.get("date_from") or "", params.get("date_to") or ""
    if low or high:
        try:
            lo = dt.date.fromisoformat(low) if low else None
            hi = dt.date.fromisoformat(high) if high else None
        except (TypeError, ValueError):
            raise ValidationError("Use dates like 2026-03-01.",
                                  fields={"date_from" if low else "date_to": "Use a date like 2026-03-01."}) from None
        if lo and hi and lo > hi:
            raise ValidationError("The end date is before the start date.",
                                  fields={"date_to": "Must not be before the start date."})
        nodes.append(date_range(lo, hi, tz))
        applied.update({k: v for k, v in (("date_from", low), ("date_to", high)) if v})
    return nodes, applied


# -- compiling (blinding) ------------------------------------------------------------------------
@dataclass
class Terms:
    """The positive text terms of a query, as searchable strings (``analysis.query_stream``),
    for highlighting decrypted hits: each is marked wherever it occurs."""

    needles: set[str] = field(default_factory=set)


def text_node(text: str, blinder: Blinder, terms: Terms | None, tag: str = "") -> Node | None:
    """A text term as a blind node: the phrase of its pairs of adjacent characters (an exact
    substring of a field, see ``search.analysis``), or, for one character, the character
    field (letters holding the character anywhere). ``tag``: ``analysis.ATTACHMENT_TAG`` to
    match the attachments' extracted text only."""
    stream = analysis.query_stream(text.translate(LITERAL))
    if not any(c.isalnum() for c in stream):
        return None   # punctuation alone says nothing (inside a term it is matched as written)
    if terms is not None:
        terms.needles.add(stream)
    if len(stream) == 1:
        return CharTerm(blinder.char_one(tag + stream))
    return Phrase(tuple(blinder.text([tag + p for p in analysis.pairs(stream)])))


def compile_query(tree, blinder: Blinder, tz: ZoneInfo, terms: Terms | None = None, tag: str = "") -> Node | None:
    """The backend query of a parse tree; ``terms`` collects what to highlight; ``tag`` as
    in ``text_node``."""

    def walk(node, positive: bool):
        if node is None:
            return None
        if isinstance(node, PText):
            return text_node(node.text, blinder, terms if positive else None, tag)
        if isinstance(node, PFilter):
            return filter_node(node.name, node.value, tz)
        if isinstance(node, PNot):
            inner = walk(node.item, not positive)
            return Not(inner) if inner is not None else None
        if isinstance(node, PBool):
            items = tuple(x for x in (walk(i, positive) for i in node.items) if x is not None)
            if not items:
                return None
            if len(items) == 1:
                return items[0]
            return And(items) if node.op == "and" else Or(items)
        raise TypeError(node)  # pragma: no cover

    out = walk(tree, True)
    if isinstance(out, Not):
        out = And((Everything(), out))
    return out


def has_text(tree) -> bool:
    if isinstance(tree, PText):
        return True
    if isinstance(tree, PNot):
        return has_text(tree.item)
    if isinstance(tree, PBool):
        return any(has_text(i) for i in tree.items)
    return False


# -- running a search --------------------------------------------------------------------------
@dataclass
class SearchHit:
    record: Record
    score: float | None
    #: HTML (escaped, with <mark>) of the subject and of a passage of the body.
    subject_html: str
    snippet_html: str
    #: A passage of the attachments' extracted text, when the match is there and not in the letter.
    attachment_html: str = ""


@dataclass
class SearchResults:
    total: int
    page: int
    per_page: int
    hits: list[SearchHit]
    facets: dict[str, dict[str, int]]
    applied: dict[str, str]
    sort: str

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def access_for(session: Session, user: User) -> Access:
    """The principals of ``user``, plus the records refused to them read from the database
    (so a new exclusion holds before the index has caught up with it)."""
    excluded = session.execute(
        select(Record.uid).join(RecordExclusion, RecordExclusion.record_id == Record.id)
        .where(RecordExclusion.user_id == user.id)).scalars().all()
    return Access(principals=frozenset(policy.user_principals(user, policy.VIEW_CONTENT)),
                  denied=frozenset({policy.user_denial(user)}), excluded_uids=frozenset(excluded))


def search(session: Session, user: User, q: str = "", *, params=None, sort: str = "relevance", page: int = 1,
           per_page: int = 20, address: str = "") -> SearchResults:
    """Search the letters ``user`` may read. ``params`` holds form/API filters
    (status, channel, region, category, office, year, date_from, date_to)."""
    from .indexer import service

    policy.require(user, policy.SEARCH)
    tz = instance_of(session).settings.tz
    if sort not in SORTS:
        raise ValidationError("Unknown sort order.", fields={"sort": Msg("Use one of: %(codes)s.", codes=Codes(SORTS))})
    try:
        page, per_page = int(page), int(per_page)
    except (TypeError, ValueError):
        raise ValidationError("page and per_page must be whole numbers.", fields={"page": "Must be a whole number."}) \
            from None
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise ValidationError(Msg("page starts at 1; per_page is 1 to %(n)s.", n=MAX_PER_PAGE),
                              fields={"page": "Out of range."})
    if page > 500:
        raise ValidationError("Narrow the search instead of paging this far.", fields={"page": "At most 500."})
    q = q or ""
    tree = parse(q)
    filter_nodes, applied = filters_from_params(params or {}, tz)
    svc = service(instance_of(session))
    terms = Terms()
    where = _where(params or {}, applied)
    node = compile_query(tree, svc.blinder, tz, terms, analysis.ATTACHMENT_TAG if where else "")
    if tree is not None and node is None:
        raise query_error("The query has no words or characters to search for.")
    if node is None and not filter_nodes:
        raise query_error("Type something to search for, or choose a filter.")
    parts = ([node] if node is not None else []) + filter_nodes
    full = parts[0] if len(parts) == 1 else And(tuple(parts))
    if sort == "relevance" and not has_text(tree):
        sort = "newest"
    result = svc.backend.search(full, access_for(session, user), sort=sort, page=page, per_page=per_page,
                                facets=FACETS)
    if has_text(tree) and (where or intake.any_text(session)):
        n = result.total if where else _in_attachments(svc, tree, tz, filter_nodes, access_for(session, user))
        result.facets["in"] = {"attachments": n} if n else {}   # like every facet: no empty counts
    hits = _authorised_hits(session, user, result.hits, terms, sort)
    audit.record(session, "search.query", actor=user, address=address,
                 detail={"total": result.total, "page": page, "shown": [h.record.serial for h in hits],
                         "filters": sorted(set(applied) | _filter_names(tree))})
    return SearchResults(total=result.total, page=page, per_page=per_page, hits=hits, facets=result.facets,
                         applied=applied, sort=sort)


#: The ``in`` parameter: where the text must be found (``attachments``: in the text
#: extracted from the letters' attachments only).
IN_VALUES = ("attachments",)


def _where(params, applied: dict) -> str:
    value = params.get("in") or ""
    if value and value not in IN_VALUES:
        raise ValidationError("in: Use 'attachments' (or leave it empty for everywhere).",
                              fields={"in": "Invalid value."})
    if value:
        applied["in"] = value
    return value


def _in_attachments(svc, tree, tz: ZoneInfo, filter_nodes: list, access: Access) -> int:
    """How many of the hits match in their attachments' text (the "in attachments" facet)."""
    node = compile_query(tree, svc.blinder, tz, None, analysis.ATTACHMENT_TAG)
    if node is None:
        return 0
    parts = [node] + filter_nodes
    return svc.backend.search(parts[0] if len(parts) == 1 else And(tuple(parts)), access, sort="newest",
                              page=1, per_page=1, facets=()).total


def _filter_names(tree) -> set[str]:
    if isinstance(tree, PFilter):
        return {tree.name}
    if isinstance(tree, PNot):
        return _filter_names(tree.item)
    if isinstance(tree, PBool):
        return set().union(*(_filter_names(i) for i in tree.items))
    return set()


def _attachment_passage(session: Session, record: Record, doc: dict, terms: Terms) -> str:
    """A highlighted passage of the attachments' text when the letter itself does not match."""
    own = "\n".join(doc.get(k, "") or "" for k in ("subject", "body", "notes"))
    if not terms.needles or highlight.spans(own, terms):
        return ""
    attached = intake.text_for_index(session, record)
    return highlight.snippet(attached, terms) if highlight.spans(attached, terms) else ""


def _authorised_hits(session: Session, user: User, hits, terms: Terms, sort: str) -> list[SearchHit]:
    """Load the hits' records, re-check access on each, and highlight the ones that pass."""
    if not hits:
        return []
    records = {r.uid: r for r in session.execute(
        select(Record).where(Record.uid.in_([h.uid for h in hits])).options(selectinload(Record.key))).scalars()}
    out, refused = [], 0
    for h in hits:
        record = records.get(h.uid)
        if record is None or not policy.can(user, policy.VIEW_CONTENT, record):
            refused += 1
            continue
        doc = operations.document(session, record)
        out.append(SearchHit(
            record=record, score=round(h.score, 4) if sort == "relevance" else None,
            subject_html=highlight.mark(doc.get("subject", ""), terms),
            snippet_html=highlight.snippet("\n".join(x for x in (doc.get("body", ""), doc.get("notes", "")) if x),
                                           terms),
            attachment_html=_attachment_passage(session, record, doc, terms)))
    if refused:
        log.warning("search: %d hit(s) refused on re-check; the index is behind the database "
                    "(run 'xinfang search sync')", refused)
    return out
