"""The small interface every search backend offers, and the values that cross it.

Callers (the indexer, queries, repeat detection) speak only this: documents of blind tokens
and clear metadata, a backend-neutral query tree, principals. The Whoosh backend
(``search.whoosh``) is the embedded one; the PostgreSQL backend (``search.postgres``), for
deployments on several machines, implements the same class without touching any caller.
``search.factory`` chooses and builds the one an instance is configured with.
"""
from __future__ import annotations

import abc
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from records.errors import XinfangError

#: Fields of clear metadata a query may filter on and the results are faceted by.
META_FIELDS = ("status", "channel", "region", "category", "office", "year")
FACETS = ("status", "channel", "region", "year", "category")
SORTS = ("relevance", "newest", "oldest")


class IndexKeyMismatch(XinfangError):
    """The index was built with another blind-token key (another instance's, or before the
    master keyring was replaced): it must be rebuilt with ``xinfang search reindex``."""

    status = 503


class IndexSchemeOutdated(IndexKeyMismatch):
    """The index was built with an older token scheme (``search.analysis.SCHEME``): its
    tokens mean something else to this version, so it must be rebuilt."""


def outdated_message(found) -> str:
    """What an operator reads when the index's token scheme is not this version's."""
    from .analysis import SCHEME

    return (f"The search index was built with token scheme {found or 1}; this version searches with scheme "
            f"{SCHEME} (numbers and words found inside longer ones, variant characters folded together). "
            "Searches are refused until it is rebuilt: run 'xinfang search reindex'.")


# -- documents -------------------------------------------------------------------------
@dataclass
class IndexDocument:
    """What the index holds of one record: ids, clear metadata, principals and blind tokens."""

    uid: str
    record_id: int
    serial: str
    year: int
    status: str
    channel: str
    region: str
    category: str
    office: str
    #: Received, seconds since the epoch (UTC).
    received: int
    doc_version: int
    allowed: frozenset[str]
    denied: frozenset[str]
    #: Blind tokens of the positional text field, in order (position = index).
    text: list[str] = field(default_factory=list)
    #: Blind tokens of the distinct CJK characters.
    chars: list[str] = field(default_factory=list)

    def stored(self) -> dict:
        """The stored (clear) fields, as ``stored_documents`` returns them."""
        return {
            "uid": self.uid, "record_id": self.record_id, "serial": self.serial, "year": self.year,
            "status": self.status, "channel": self.channel, "region": self.region,
            "category": self.category, "office": self.office, "received": self.received,
            "doc_version": self.doc_version, "allowed": " ".join(sorted(self.allowed)),
            "denied": " ".join(sorted(self.denied)),
        }


# -- queries (blind tokens already in place) -------------------------------------------------
class Node:
    """A node of a backend-neutral query."""


@dataclass(frozen=True)
class Everything(Node):
    pass


@dataclass(frozen=True)
class TextTerm(Node):
    """One blind token of the positional text field."""

    token: str


@dataclass(frozen=True)
class Phrase(Node):
    """Blind tokens at consecutive positions: an exact substring."""

    tokens: tuple[str, ...]


@dataclass(frozen=True)
class CharTerm(Node):
    """One blind CJK character (the character field)."""

    token: str


@dataclass(frozen=True)
class Match(Node):
    """A metadata field equal to a value."""

    field: str
    value: str | int


@dataclass(frozen=True)
class Range(Node):
    """A numeric metadata field (``year``, ``received``) between two inclusive bounds."""

    field: str
    low: int | None
    high: int | None


@dataclass(frozen=True)
class And(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Or(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Not(Node):
    item: Node


# -- results ---------------------------------------------------------------------------------
@dataclass
class Hit:
    uid: str
    record_id: int
    serial: str
    score: float
    #: Share (0–1) of the query's weighted terms the hit contains; set by ``similar`` only.
    overlap: float = 0.0


@dataclass
class HitPage:
    total: int
    hits: list[Hit]
    #: facet -> value -> count, over every hit the principals allow (not just this page).
    facets: dict[str, dict[str, int]]


@dataclass
class Access:
    """Who is asking: principals that may see a document, and what masks one out.

    ``principals=None`` means unrestricted (system jobs only: ``check``, reindex)."""

    principals: frozenset[str] | None
    denied: frozenset[str] = frozenset()
    #: Record uids refused to this user, read from the database at query time, so a refusal
    #: holds even before the index has caught up with it.
    excluded_uids: frozenset[str] = frozenset()

    @property
    def is_empty(self) -> bool:
        return self.principals is not None and not self.principals


@dataclass
class PurgeReport:
    shards: list[str]
    segments_rewritten: int
    documents_kept: int


class BulkLoader(abc.ABC):
    """A rebuild in progress: documents go to a fresh index that replaces the old one on
    ``commit`` (and is thrown away on ``cancel``)."""

    @abc.abstractmethod
    def add(self, doc: IndexDocument) -> None: ...

    def add_text(self, meta: IndexDocument, text: str, blinder) -> None:
        """Add ``meta`` with ``text`` analysed and blinded (a loader may do that in parallel)."""
        from . import analysis

        analysed = analysis.analyse(text)
        meta.text = blinder.text(analysed.tokens)
        meta.chars = blinder.chars(sorted(analysed.chars))
        self.add(meta)

    @abc.abstractmethod
    def commit(self) -> None: ...

    @abc.abstractmethod
    def cancel(self) -> None: ...


class SearchBackend(abc.ABC):
    """Index documents, delete them (purged, not just marked), query with principals, check."""

    #: The id of the blind-token key the index is built with.
    key_id: str

    @abc.abstractmethod
    def index(self, docs: Iterable[IndexDocument], *, merge: bool = True) -> int:
        """Add or replace documents (by uid); returns how many were written. ``merge=False``
        asks for the quickest commit, leaving storage upkeep to ``maintain``."""

    def maintain(self) -> int:
        """Storage upkeep (merging); returns how many parts were rewritten."""
        return 0

    @abc.abstractmethod
    def delete(self, uids: Iterable[str], *, purge: bool = True) -> int:
        """Remove documents; with ``purge`` the storage holding them is rewritten so no trace
        of their tokens remains. Returns how many were found."""

    @abc.abstractmethod
    def search(self, query: Node, access: Access, *, sort: str = "relevance", page: int = 1,
               per_page: int = 20, facets: Iterable[str] = FACETS) -> HitPage:
        """Hits the access allows, one page of them, with facet counts over all of them."""

    @abc.abstractmethod
    def similar(self, weighted: dict[str, float], access: Access, *, exclude_uid: str | None = None,
                limit: int = 10) -> list[Hit]:
        """More-like-this over blind text tokens: documents sharing the weighted tokens."""

    @abc.abstractmethod
    def doc_frequencies(self, tokens: Iterable[str]) -> dict[str, int]:
        """How many documents hold each blind text token (for weighting)."""

    @abc.abstractmethod
    def doc_count(self) -> int: ...

    @abc.abstractmethod
    def stored_documents(self) -> Iterator[dict]:
        """Every live document's stored fields (see ``IndexDocument.stored``)."""

    @abc.abstractmethod
    def purge(self, years: Iterable[int] | None = None, *, deleted_only: bool = False) -> PurgeReport:
        """Rewrite the storage holding deleted documents (of ``years``, or all). With
        ``deleted_only`` (after a destruction's deletions), only what the deleted and moved
        documents left; a backend whose storage is by year alone rewrites ``years``'."""

    def warm(self) -> None:
        """Read into memory what every search needs (called in the background when a
        server process starts, so its first searches do not pay for it)."""

    def recover(self) -> None:
        """Clean up after a writer that crashed (called by the one writer before it writes)."""

    @abc.abstractmethod
    def bulk_loader(self) -> BulkLoader:
        """Start a rebuild into a fresh index."""

    @abc.abstractmethod
    def describe(self) -> dict:
        """Size and layout, for ``check`` and the benchmark."""
