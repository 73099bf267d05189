"""The embedded search backend: Whoosh indexes on disk, one shard per year.

Layout of ``settings.index_dir``::

    CURRENT            the generation in use ("gen-3"), replaced atomically by a rebuild
    gen-3/meta.json    format and the id (never the value) of the blind-token key
    gen-3/y2025/       one Whoosh index per year of receipt
    gen-3/y2026/
    .writer.lock       held by the one writer (see ``indexer.writer_lock``)

Sharding by year keeps a purge bounded: destroying a (region, year) batch rewrites the
segments of that year's shard that hold deleted documents, never the whole archive.

Only lists of blind tokens are ever given to Whoosh; the schema's analyzer refuses a
string, so no plaintext can reach the index, its temporary posting runs, or the job files
of a multi-process writer. The analyzer keeps the key *id*, so an index built with another
key is detected instead of silently finding nothing.
"""
from __future__ import annotations

import base64
import json
import math
import os
import re
import shutil
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from whoosh import collectors, fields, formats, index as windex, query as wq, sorting
from whoosh.analysis import Token, Tokenizer
from whoosh.codec.base import OutOfOrderError
from whoosh.codec.whoosh3 import W3Codec, W3FieldWriter, W3PerDocReader, _lenfield
from whoosh.idsets import DocIdSet
from whoosh.matching.binary import IntersectionMatcher
from whoosh.query.spans import Span, SpanWrappingMatcher
from whoosh.reading import MultiReader, SegmentReader
from whoosh.searching import Searcher
from whoosh.util import make_binary_tree
from whoosh.util.numeric import byte_to_length
from whoosh.writing import NO_MERGE

from .backend import (  # noqa: F401 - IndexKeyMismatch is still importable from here
    FACETS, Access, And, BulkLoader, CharTerm, Everything, Hit, HitPage, IndexDocument, IndexKeyMismatch,
    Match, Node, Not, Or, Phrase, PurgeReport, Range, SearchBackend, TextTerm,
)

FORMAT = 1
#: Tries at opening a consistent set of segments while writers commit beside the reader.
OPEN_ATTEMPTS = 5
INDEX_NAME = "MAIN"
_SHARD_RE = re.compile(r"^y(\d{4})$")
_GEN_RE = re.compile(r"^gen-(\d+)$")
_TOC_RE = re.compile(r"^_" + INDEX_NAME + r"_(\d+)\.toc$")


#: Keys of multi-process rebuilds in progress, by blind-key id: (hand-off key, blinder). A
#: forked sub-writer inherits them with its parent's memory; nothing of them reaches a file.
_HANDOFF: dict[str, tuple[bytes, object]] = {}
HANDOFF_PREFIX = "\x00xinfang-handoff:"
_HANDOFF_AAD = b"xinfang/search/handoff"
#: The last hand-off opened in this process: both blind fields of a document read it.
_LAST_OPENED: list = [None, None]


def seal_handoff(key_id: str, text: str) -> str:
    """``text`` encrypted under the rebuild's in-memory hand-off key, as a field value for a
    sub-writer (its job file then holds ciphertext only)."""
    from records.crypto import seal

    key = _HANDOFF[key_id][0]
    return HANDOFF_PREFIX + base64.b64encode(seal(key, text.encode("utf-8"), _HANDOFF_AAD)).decode("ascii")


def _open_handoff(key_id: str, value: str):
    if _LAST_OPENED[0] == value:
        return _LAST_OPENED[1]
    from records.crypto import open_sealed

    from . import analysis

    key = _HANDOFF[key_id][0]
    text = open_sealed(key, base64.b64decode(value[len(HANDOFF_PREFIX):]), _HANDOFF_AAD).decode("utf-8")
    analysed = analysis.analyse(text)
    _LAST_OPENED[:] = [value, analysed]
    return analysed


class BlindTokensOnly(Tokenizer):
    """The analyzer of the blind fields: holds the key id, never a key. It accepts the lists
    of blind tokens built by ``search.blind`` (Whoosh indexes lists without calling it) and,
    inside a multi-process rebuild, a hand-off value it decrypts, analyses and blinds in the
    sub-writer's memory. Anything else, plain text above all, is refused."""

    def __init__(self, key_id: str, field: str = "text"):
        self.key_id = key_id
        self.field = field

    def __eq__(self, other):
        return isinstance(other, BlindTokensOnly) and other.key_id == self.key_id \
            and getattr(other, "field", "text") == getattr(self, "field", "text")

    def blind_tokens(self, value) -> list[str]:
        """The blind tokens of a field value: the list itself, or those of a hand-off value."""
        if isinstance(value, (list, tuple)):
            return value
        if not (isinstance(value, str) and value.startswith(HANDOFF_PREFIX) and self.key_id in _HANDOFF):
            raise TypeError("the search index accepts lists of blind tokens only, never text")
        blinder = _HANDOFF[self.key_id][1]
        analysed = _open_handoff(self.key_id, value)
        if getattr(self, "field", "text") == "chars":
            return blinder.chars(sorted(analysed.chars))
        return blinder.text(analysed.tokens)

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,
                 start_pos=0, start_char=0, mode="", **kwargs):
        if isinstance(value, (list, tuple)):   # Whoosh tokenises lists itself; never asked
            raise TypeError("the search index accepts lists of blind tokens only, never text")
        tokens = self.blind_tokens(value)
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        for i, tok in enumerate(tokens):
            t.text, t.boost = tok, 1.0
            if positions:
                t.pos = start_pos + i
            yield t


class BlindPositions(formats.Positions):
    """Whoosh's ``Positions`` (same postings, same bytes) built straight from a list of blind
    tokens, position = index, without a Token object per token: indexing spends most of its
    time per token and per posting."""

    def word_values(self, value, analyzer, **kwargs):
        if not isinstance(analyzer, BlindTokensOnly):
            yield from super().word_values(value, analyzer, **kwargs)
            return
        poses: dict[str, list[int]] = {}
        for i, token in enumerate(analyzer.blind_tokens(value)):
            got = poses.get(token)
            if got is None:
                poses[token] = [i]
            else:
                got.append(i)
        boost, encode = self.field_boost, self.encode
        for token, poslist in poses.items():
            yield token, len(poslist), len(poslist) * boost, encode(poslist)


class BlindExistence(formats.Existence):
    """Whoosh's ``Existence`` built straight from a list of blind tokens (see ``BlindPositions``)."""

    def word_values(self, value, analyzer, **kwargs):
        if not isinstance(analyzer, BlindTokensOnly):
            yield from super().word_values(value, analyzer, **kwargs)
            return
        boost = self.field_boost
        for token in dict.fromkeys(analyzer.blind_tokens(value)):
            yield token, 1, boost, b""


class LengthsInMemoryCodec(W3Codec):
    """Whoosh's own codec, except that a segment's field lengths (one byte a document) are
    read into memory once per field instead of with one seek and read per posting: writing a
    segment looks a length up for every posting, and a query for every hit it scores. Files
    are unchanged, and the segments it writes name Whoosh's plain codec in their table of
    contents, so any Whoosh (an older process of ours included) reads them; our writers and
    readers bring this class themselves."""

    def per_document_reader(self, storage, segment):
        return _LengthsInMemoryReader(storage, segment)

    def field_writer(self, storage, segment):
        return _LeanFieldWriter(self, storage, segment)

    def new_segment(self, storage, indexname):
        return W3Codec(self._blocklimit, self._compression, self._inlinelimit).new_segment(storage, indexname)


class _LeanFieldWriter(W3FieldWriter):
    """Writes the same posting lists as Whoosh's field writer (``FieldWriter.add_postings``
    and ``W3PostingsWriter.add_posting``), with the per-posting work inlined: no call and no
    type assertion per posting, lengths from a table read once per field. A rebuild writes
    about 500 postings a letter, so this loop is most of its time."""

    def add_postings(self, schema, lengths, items):
        table = getattr(lengths, "length_table", None)
        lastfn = lasttext = None
        pw = lens = None
        for fieldname, btext, docnum, weight, value in items:
            if fieldname != lastfn:
                if lasttext is not None:
                    self.finish_term()
                if lastfn is not None:
                    self.finish_field()
                if lastfn is not None and fieldname < lastfn:
                    raise OutOfOrderError(f"Field {lastfn!r} .. {fieldname!r}")
                self.start_field(fieldname, schema[fieldname])
                # lengths: a table read once (None: the field keeps none, so every lookup
                # would be falsy), or, from a merge's combined readers, one lookup a posting
                lens = table(fieldname) if table is not None else None
                per_posting = table is None and lengths is not None
                lastfn, lasttext = fieldname, None
            if docnum == -1:   # Whoosh's marker of a spelling word, not a posting
                continue
            if btext != lasttext:
                if lasttext is not None:
                    if btext < lasttext:
                        raise OutOfOrderError(f"Term {fieldname}:{lasttext!r} .. {btext!r}")
                    self.finish_term()
                self.start_term(btext)
                pw = self._postwriter
                limit = pw._blocklimit
                lasttext = btext
            # W3PostingsWriter.add_posting, inlined
            if len(pw._ids) >= limit:
                pw._write_block()
            pw._ids.append(docnum)
            pw._weights.append(weight)
            if weight > pw._maxweight:
                pw._maxweight = weight
            if value:
                pw._values.append(value)
            if lens is not None:
                length = lens[docnum] if docnum < len(lens) else None
            else:
                length = lengths.doc_field_length(docnum, fieldname) if per_posting else None
            if length:
                if pw._minlength is None or length < pw._minlength:
                    pw._minlength = length
                if length > pw._maxlength:
                    pw._maxlength = length
        if lasttext is not None:
            self.finish_term()
        if lastfn is not None:
            self.finish_field()


class _LengthsInMemoryReader(W3PerDocReader):
    def length_table(self, fieldname) -> list | None:
        """Every document's length of ``fieldname`` (None where Whoosh's lookup gives None),
        or None when the segment has no lengths of it; read once per field."""
        tables = self.__dict__.setdefault("_length_lists", {})
        got = tables.get(fieldname, False)
        if got is False:
            raw = self._read_lengths(fieldname)
            got = None if raw is False else [byte_to_length(b) if b else None for b in raw]
            tables[fieldname] = got
        return got

    def doc_field_length(self, docnum, fieldname, default=0):
        if docnum > self._doccount:
            raise IndexError(f"Asked for docnum {docnum!r} of {self._doccount}")
        table = self.length_table(fieldname)
        if table is None:
            return default
        return table[docnum] if docnum < len(table) else None

    def _read_lengths(self, fieldname):
        lenfield = _lenfield(fieldname)
        if not self.has_column(lenfield):
            return False
        colfile, offset, length = self._get_column_file(lenfield)
        try:
            return colfile.get(offset, length)
        finally:
            colfile.close()


def _text_field(key_id: str) -> fields.TEXT:
    field = fields.TEXT(analyzer=BlindTokensOnly(key_id, "text"), phrase=True)
    field.format = BlindPositions(field_boost=field.format.field_boost)
    return field


def make_schema(key_id: str) -> fields.Schema:
    return fields.Schema(
        uid=fields.ID(stored=True, unique=True),
        record_id=fields.STORED(),
        serial=fields.STORED(),
        doc_version=fields.STORED(),
        status=fields.ID(stored=True, sortable=True),
        channel=fields.ID(stored=True, sortable=True),
        region=fields.ID(stored=True, sortable=True),
        category=fields.ID(stored=True, sortable=True),
        office=fields.ID(stored=True, sortable=True),
        year=fields.NUMERIC(int, stored=True, sortable=True),
        received=fields.NUMERIC(int, bits=64, stored=True, sortable=True),
        allowed=fields.KEYWORD(stored=True),
        denied=fields.KEYWORD(stored=True),
        text=_text_field(key_id),
        chars=fields.FieldType(BlindExistence(), BlindTokensOnly(key_id, "chars"), scorable=True),
    )


def _fields_of(doc: IndexDocument) -> dict:
    out = {
        "uid": doc.uid, "record_id": doc.record_id, "serial": doc.serial, "doc_version": doc.doc_version,
        "status": doc.status, "channel": doc.channel, "region": doc.region, "category": doc.category,
        "office": doc.office, "year": doc.year, "received": doc.received,
        "allowed": " ".join(sorted(doc.allowed)), "denied": " ".join(sorted(doc.denied)),
    }
    # Whoosh indexes a list without calling the analyzer; an empty list is simply left out.
    if doc.text:
        out["text"] = doc.text
    if doc.chars:
        out["chars"] = doc.chars
    return out


#: Segments of similar size are merged once there are this many of them (log-structured).
TIER_FACTOR = 10
#: Documents per segment a rebuild writes, and the size from which a segment is no longer
#: merged with others (only rewritten alone to purge deletions). Whoosh sorts a segment's
#: postings in memory up to its pool limit (``limitmb``) and beyond it spills every posting
#: to disk and back, one pickle each: about a quarter of the time of a rebuild. A letter of
#: ~370 characters makes ~500 postings, so 2,000 letters stay inside 256 MB.
SEGMENT_DOCS = 2000


def _tier(segment) -> int:
    return int(math.log(max(segment.doc_count_all(), 1), TIER_FACTOR))


def _tiers_to_merge(segments) -> list:
    """From each tier holding ``TIER_FACTOR`` segments under ``SEGMENT_DOCS`` documents, its
    smallest segments, as many as make about ``SEGMENT_DOCS`` documents (at least two): a
    merge then also fits in the writer's memory."""
    tiers: dict[int, list] = {}
    for seg in segments:
        if seg.doc_count_all() < SEGMENT_DOCS:
            tiers.setdefault(_tier(seg), []).append(seg)
    out = []
    for segs in tiers.values():
        if len(segs) < TIER_FACTOR:
            continue
        total = 0
        for n, seg in enumerate(sorted(segs, key=lambda s: s.doc_count_all())):
            if n >= 2 and total + seg.doc_count_all() > SEGMENT_DOCS:
                break
            out.append(seg)
            total += seg.doc_count_all()
    return out


def TIERED(writer, segments):
    """Merge policy: merge the segments of a size tier (1-9, 10-99, 100-999… documents) once
    it holds ``TIER_FACTOR`` of them, so a shard keeps few segments and each document is
    rewritten a logarithmic number of times. Segments of ``SEGMENT_DOCS`` documents or more
    are left as they are, and a merge writes about that many at most: a shard gains a
    segment about every 2,000 letters, and no merge ever rewrites the whole shard."""
    merge = _tiers_to_merge(segments)
    for seg in merge:
        reader = SegmentReader(writer.storage, writer.schema, seg, codec=writer.codec)
        writer.add_reader(reader)
        reader.close()
    return [seg for seg in segments if seg not in merge]


def PURGE_DELETED(writer, segments):
    """Merge policy: rewrite every segment holding deleted documents (so their terms and
    stored fields are physically gone) and keep the others as they are."""
    keep = []
    for seg in segments:
        if seg.has_deletions():
            reader = SegmentReader(writer.storage, writer.schema, seg, codec=writer.codec)
            writer.add_reader(reader)
            reader.close()
        else:
            keep.append(seg)
    return keep


def _bitmap(docnums: Iterable[int], count: int) -> int:
    """The document numbers as the bits of an int (bit n = document n), built in a buffer."""
    bits = bytearray((count + 7) // 8)
    for docnum in docnums:
        bits[docnum >> 3] |= 1 << (docnum & 7)
    return int.from_bytes(bits, "little")


class _Bits(DocIdSet):
    """A set of global document numbers held as a bitmap (all Whoosh's filters ask is ``in``)."""

    __slots__ = ("_bytes", "_any")

    def __init__(self, value: int, size: int):
        self._bytes = value.to_bytes((size + 7) // 8 + 1, "little")
        self._any = bool(value)

    @classmethod
    def of(cls, value: int | None, size: int) -> "_Bits | None":
        return None if value is None else cls(value, size)

    def __contains__(self, docnum: int) -> bool:
        return bool(self._bytes[docnum >> 3] >> (docnum & 7) & 1)

    def __bool__(self) -> bool:
        return self._any


class _HitBits(collectors.WrappingCollector):
    """Passes every match on to the collector it wraps and notes it in a bitmap of global
    document numbers (for the total and the facet counts)."""

    def prepare(self, top_searcher, q, context):
        super().prepare(top_searcher, q, context)
        self.bits = bytearray((top_searcher.doc_count_all() + 7) // 8)

    def collect(self, sub_docnum):
        docnum = self.offset + sub_docnum
        self.bits[docnum >> 3] |= 1 << (docnum & 7)
        return self.child.collect(sub_docnum)


class ExactPhrase(wq.Phrase):
    """Blind tokens at consecutive positions (an exact substring), matched like Whoosh's
    ``Phrase`` (same candidates, same scores) but checked with set arithmetic on the
    decoded positions instead of span objects: a document matches when some start ``p`` has
    token ``i`` at ``p + i`` for every ``i``, the rarest tokens checked first."""

    def matcher(self, searcher, context=None):
        from whoosh import matching

        reader = searcher.reader()
        field = searcher.schema[self.fieldname]
        leaves = []
        for offset, word in enumerate(self.words):
            word = field.to_bytes(word)
            if (self.fieldname, word) not in reader:
                return matching.NullMatcher()
            leaves.append((reader.doc_frequency(self.fieldname, word), offset,
                           wq.Term(self.fieldname, word).matcher(searcher, context)))
        matchers = [m for _f, _o, m in leaves]          # in phrase order, for the intersection
        checks = [(o, m) for _f, o, m in sorted(leaves, key=lambda x: (x[0], x[1]))]
        m = _ExactPhraseMatcher(matchers, checks, len(self.words))
        if self.boost != 1.0:
            m = matching.WrappingMatcher(m, boost=self.boost)
        return m


class _ExactPhraseMatcher(SpanWrappingMatcher):
    def __init__(self, matchers, checks, length):
        self.matchers, self.checks, self.length = matchers, checks, length
        super().__init__(make_binary_tree(IntersectionMatcher, matchers))

    def copy(self):
        copies = [m.copy() for m in self.matchers]
        by_id = {id(m): c for m, c in zip(self.matchers, copies)}
        return self.__class__(copies, [(o, by_id[id(m)]) for o, m in self.checks], self.length)

    def replace(self, minquality=0):
        from whoosh import matching

        return self if self.is_active() else matching.NullMatcher()

    def _get_spans(self):
        starts = None
        for offset, m in self.checks:
            here = {p - offset for p in m.value_as("positions")}
            starts = here if starts is None else starts & here
            if not starts:
                return []
        return [Span(p, p + self.length - 1) for p in sorted(starts)]


def to_whoosh(node: Node):
    """The Whoosh query of a backend-neutral query tree."""
    if isinstance(node, Everything):
        return wq.Every()
    if isinstance(node, TextTerm):
        return wq.Term("text", node.token)
    if isinstance(node, Phrase):
        if len(node.tokens) == 1:
            return wq.Term("text", node.tokens[0])
        return ExactPhrase("text", list(node.tokens))
    if isinstance(node, CharTerm):
        return wq.Term("chars", node.token)
    if isinstance(node, Match):
        if node.field in ("year", "received"):
            return wq.NumericRange(node.field, int(node.value), int(node.value))
        return wq.Term(node.field, str(node.value))
    if isinstance(node, Range):
        return wq.NumericRange(node.field, node.low, node.high)
    if isinstance(node, And):
        return wq.And([to_whoosh(n) for n in node.items])
    if isinstance(node, Or):
        return wq.Or([to_whoosh(n) for n in node.items])
    if isinstance(node, Not):
        return wq.And([wq.Every(), wq.Not(to_whoosh(node.item))])
    raise TypeError(f"unknown query node {node!r}")


def _shard_name(year: int) -> str:
    return f"y{int(year):04d}"


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class WhooshBackend(SearchBackend):
    #: Documents per sub-writer job file when several processes build an index.
    BULK_BATCH = 256

    def __init__(self, root: Path, key_id: str, *, procs: int = 1, limitmb: int = 256):
        self.root = Path(root)
        self.key_id = key_id
        self.procs = max(1, int(procs))
        self.limitmb = limitmb
        self._schema = make_schema(key_id)
        self._local = threading.local()
        self._lock = threading.Lock()
        #: The generation whose meta.json was last found to match this key.
        self._checked: str | None = None
        #: Bumped after every write in this process, so cached searchers refresh at once.
        self._epoch = 0
        #: (segment id, field, term) -> document bits (see ``_term_bits``).
        self._bits: dict[tuple, int] = {}
        #: Segment id -> facet -> value -> document bits (see ``_value_masks``).
        self._masks: dict[str, dict[str, dict[str, int]]] = {}

    # -- layout ------------------------------------------------------------------------
    def _generation(self) -> Path:
        """The generation folder in use, created (empty) on first use."""
        current = self.root / "CURRENT"
        try:
            name = current.read_text().strip()
        except FileNotFoundError:
            name = ""
        if not _GEN_RE.match(name) or not (self.root / name).is_dir():
            with self._lock:
                self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
                try:
                    name = current.read_text().strip()
                except FileNotFoundError:
                    name = ""
                if not _GEN_RE.match(name) or not (self.root / name).is_dir():
                    name = self._new_generation_name()
                    self._init_generation(self.root / name)
                    _write_atomic(current, name)
        gen = self.root / name
        if self._checked != name:
            self._check_meta(gen)
            self._checked = name
        return gen

    def _new_generation_name(self) -> str:
        numbers = [int(m.group(1)) for p in self.root.iterdir() if (m := _GEN_RE.match(p.name))] \
            if self.root.is_dir() else []
        return f"gen-{max(numbers, default=0) + 1}"

    def _init_generation(self, gen: Path) -> None:
        # exist_ok: two processes creating the first generation at once write the same thing
        gen.mkdir(parents=True, exist_ok=True, mode=0o700)
        _write_atomic(gen / "meta.json", json.dumps({"format": FORMAT, "key_id": self.key_id,
                                                     "layout": "shard-per-year"}))

    def _check_meta(self, gen: Path) -> None:
        try:
            meta = json.loads((gen / "meta.json").read_text())
        except (FileNotFoundError, ValueError):
            raise IndexKeyMismatch(f"The search index at {gen} has no readable meta.json; "
                                   "rebuild it with 'xinfang search reindex'.") from None
        if meta.get("key_id") != self.key_id or meta.get("format") != FORMAT:
            raise IndexKeyMismatch("The search index was built with another blind-token key or format; "
                                   "rebuild it with 'xinfang search reindex'.")

    def _shards(self, gen: Path | None = None) -> dict[int, Path]:
        return {year: path for year, (path, _toc) in self._shard_tocs(gen or self._generation()).items()}

    @staticmethod
    def _shard_tocs(gen: Path) -> dict[int, tuple[Path, int]]:
        """Year -> (folder, latest table-of-contents generation), one directory listing each."""
        out = {}
        for entry in os.scandir(gen):
            m = _SHARD_RE.match(entry.name)
            if not m or not entry.is_dir():
                continue
            tocs = [int(t.group(1)) for f in os.listdir(entry.path) if (t := _TOC_RE.match(f))]
            if tocs:
                out[int(m.group(1))] = (Path(entry.path), max(tocs))
        return dict(sorted(out.items()))

    def _open_shard(self, path: Path, *, create: bool = False):
        if windex.exists_in(str(path), INDEX_NAME):
            ix = windex.open_dir(str(path), indexname=INDEX_NAME)
            analyzer = ix.schema["text"].analyzer
            if getattr(analyzer, "key_id", None) != self.key_id:
                raise IndexKeyMismatch("A shard of the search index was built with another blind-token key; "
                                       "rebuild it with 'xinfang search reindex'.")
            return ix
        if not create:
            return None
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return windex.create_in(str(path), self._schema, indexname=INDEX_NAME)

    def _writer(self, ix, **kwargs):
        return ix.writer(timeout=30.0, limitmb=self.limitmb, codec=LengthsInMemoryCodec(), **kwargs)

    def _changed(self) -> None:
        self._epoch += 1

    # -- writing -----------------------------------------------------------------------
    def index(self, docs: Iterable[IndexDocument], *, merge: bool = True) -> int:
        """Add or replace documents. ``merge=False`` commits without merging segments (the
        fast path after a request; ``maintain`` merges later)."""
        by_year: dict[int, list[IndexDocument]] = {}
        for d in docs:
            by_year.setdefault(d.year, []).append(d)
        if not by_year:
            return 0
        gen = self._generation()
        written = 0
        for year, items in sorted(by_year.items()):
            ix = self._open_shard(gen / _shard_name(year), create=True)
            w = self._writer(ix)
            try:
                for d in items:
                    w.update_document(**_fields_of(d))
                    written += 1
            except BaseException:
                w.cancel()
                raise
            w.commit(mergetype=TIERED if merge else NO_MERGE)
            ix.close()
        self._changed()
        return written

    def maintain(self) -> int:
        """Merge segments where the tiered policy says so; returns how many shards merged."""
        merged = 0
        for _year, path in self._shards().items():
            ix = self._open_shard(path)
            if _tiers_to_merge(ix._read_toc().segments):
                w = self._writer(ix)
                w.commit(mergetype=TIERED)
                merged += 1
            ix.close()
        if merged:
            self._changed()
        return merged

    def _delete_in_shard(self, path: Path, uids: set[str], *, purge: bool) -> int:
        ix = self._open_shard(path)
        if ix is None:
            return 0
        with ix.searcher() as s:
            present = [u for u in uids if s.document_number(uid=u) is not None]
            has_deleted = s.reader().has_deletions() if hasattr(s.reader(), "has_deletions") else False
        if not present and not (purge and has_deleted):
            ix.close()
            return 0
        w = self._writer(ix)
        try:
            for u in present:
                w.delete_by_term("uid", u)
        except BaseException:
            w.cancel()
            raise
        w.commit(mergetype=PURGE_DELETED if purge else None)
        ix.close()
        return len(present)

    def delete(self, uids: Iterable[str], *, purge: bool = True) -> int:
        uids = set(uids)
        if not uids:
            return 0
        gen = self._generation()
        found = 0
        for _year, path in self._shards(gen).items():
            found += self._delete_in_shard(path, uids, purge=purge)
        self._remove_stray_temp(gen)
        self._changed()
        return found

    def purge(self, years: Iterable[int] | None = None) -> PurgeReport:
        gen = self._generation()
        wanted = None if years is None else {int(y) for y in years}
        report = PurgeReport(shards=[], segments_rewritten=0, documents_kept=0)
        for year, path in self._shards(gen).items():
            if wanted is not None and year not in wanted:
                continue
            ix = self._open_shard(path)
            toc = ix._read_toc()
            dirty = [s for s in toc.segments if s.has_deletions()]
            if dirty:
                w = self._writer(ix)
                w.commit(mergetype=PURGE_DELETED)
                report.shards.append(path.name)
                report.segments_rewritten += len(dirty)
            report.documents_kept += ix.doc_count()
            ix.close()
        self._remove_stray_temp(gen)
        self._changed()
        return report

    def recover(self) -> None:
        """Remove what a writer that crashed left behind: its temporary posting runs and the
        segment files no table of contents refers to (they may hold tokens of documents
        deleted since), a rebuild that never finished, an old generation not yet removed.
        Call it under the writer lock; a shard whose own write lock is held (a writer at
        work in another process) is left alone."""
        gen = self._generation()
        self._remove_stray_temp(gen)
        for p in self.root.iterdir():
            if p.is_dir() and p != gen and (p.name.startswith(".rebuild-") or _GEN_RE.match(p.name)):
                shutil.rmtree(p, ignore_errors=True)

    def _remove_stray_temp(self, gen: Path) -> None:
        for path in self._shards(gen).values():
            ix = self._open_shard(path)
            lock = ix.lock("WRITELOCK")
            if not lock.acquire(blocking=False):
                ix.close()
                continue   # a writer is at work: its files are not strays
            try:
                for p in path.iterdir():
                    if p.is_dir() and p.name.endswith(".tmp"):
                        shutil.rmtree(p, ignore_errors=True)
                toc = ix._read_toc()
                windex.clean_files(ix.storage, INDEX_NAME, toc.generation, toc.segments)
            finally:
                lock.release()
                ix.close()

    # -- reading -----------------------------------------------------------------------
    def _state(self) -> tuple:
        gen = self._generation()
        tocs = self._shard_tocs(gen)
        return (gen.name, tuple((y, toc) for y, (_p, toc) in tocs.items()), self._epoch)

    def _searcher(self) -> Searcher | None:
        """This thread's searcher over every shard, brought up to date when the index changed.
        Readers of segments that did not change are kept (opening one reads its term index),
        so a search after a registration opens only the new segment."""
        state = self._state()
        local = self._local
        if getattr(local, "state", None) == state:
            return local.searcher
        kept = getattr(local, "readers", {})
        local.searcher, local.state = None, None
        for attempt in range(OPEN_ATTEMPTS):
            try:
                readers = self._open_leaves(self.root / state[0], kept)
                break
            except FileNotFoundError:
                # A writer committed between our reading a table of contents and opening the
                # segments it names (a merge removes the old ones): read the new one.
                if attempt == OPEN_ATTEMPTS - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))
                state = self._state()
        for key, (_deleted, reader) in kept.items():
            if readers.get(key, (None, None))[1] is not reader:
                reader.close()
        local.readers = readers
        leaves = [r for _d, r in readers.values()]
        if not leaves:
            local.state = state
            return None
        # Not Searcher.close() on the old one: it would close the readers kept here.
        local.searcher = Searcher(leaves[0] if len(leaves) == 1 else MultiReader(leaves))
        local.state = state
        return local.searcher

    def _open_leaves(self, gen: Path, kept: dict) -> dict:
        """Segment id -> (deleted count, reader) of every non-empty segment, in shard order;
        a kept reader serves again when its segment has no new deletions."""
        readers, opened = {}, []
        try:
            for _year, path in self._shards(gen).items():
                ix = self._open_shard(path)
                toc = ix._read_toc()
                for segment in toc.segments:
                    if not segment.doc_count_all():
                        continue
                    key, deleted = segment.segment_id(), segment.deleted_count()
                    old = kept.get(key)
                    if old is not None and old[0] == deleted:
                        readers[key] = old
                        continue
                    r = SegmentReader(ix.storage, toc.schema, segment, generation=toc.generation,
                                      codec=LengthsInMemoryCodec())
                    opened.append(r)
                    readers[key] = (deleted, r)
        except FileNotFoundError:
            for r in opened:
                r.close()
            raise
        return readers

    def close(self) -> None:
        """Close this thread's cached searcher (its open files)."""
        for _deleted, reader in getattr(self._local, "readers", {}).values():
            reader.close()
        self._local.readers, self._local.searcher, self._local.state = {}, None, None

    # -- access, as bitmaps of document numbers ------------------------------------------------
    def _term_bits(self, reader, field: str, term: str) -> int:
        """Bits of the segment's documents holding ``field:term`` (cached by segment id: a
        segment never changes once written, and deleted documents never match anyway)."""
        key = (reader.segment().segment_id(), field, term)
        got = self._bits.get(key)
        if got is None:
            docnums = reader.postings(field, term).all_ids() if (field, term) in reader else ()
            got = _bitmap(docnums, reader.doc_count_all())
            if len(self._bits) > 4096:   # segments merged away long ago
                self._bits.clear()
            self._bits[key] = got
        return got

    def _access_bits(self, searcher: Searcher, access: Access, exclude_uid: str | None = None):
        """(allowed, masked) as sets of global document numbers (None: no such condition):
        allowed = holding one of the principals; masked = refused to the user, excluded by
        the database, or ``exclude_uid``. Built from per-segment bitmaps, so a new segment
        after a registration costs only its own postings."""
        masks = [("denied", d) for d in sorted(access.denied)]
        masks += [("uid", u) for u in sorted(access.excluded_uids | ({exclude_uid} if exclude_uid else set()))]
        principals = sorted(access.principals) if access.principals is not None else None
        allowed = 0 if principals is not None else None
        masked = 0 if masks else None
        for sub, offset in searcher.leaf_searchers():
            r = sub.reader()
            if principals is not None:
                here = 0
                for p in principals:
                    here |= self._term_bits(r, "allowed", p)
                allowed |= here << offset
            if masks:
                here = 0
                for field, term in masks:
                    here |= self._term_bits(r, field, term)
                masked |= here << offset
        return _Bits.of(allowed, searcher.doc_count_all()), _Bits.of(masked, searcher.doc_count_all())

    def search(self, query: Node, access: Access, *, sort: str = "relevance", page: int = 1,
               per_page: int = 20, facets: Iterable[str] = FACETS) -> HitPage:
        facets = tuple(facets)
        empty = HitPage(total=0, hits=[], facets={f: {} for f in facets})
        if access.is_empty:
            return empty
        s = self._searcher()
        if s is None:
            return empty
        filt, mask = self._access_bits(s, access)
        if filt is not None and not filt:
            return empty   # nothing is open to these principals (and Whoosh reads an empty filter as none)
        page = max(1, int(page))
        limit = page * per_page
        if sort in ("newest", "oldest"):
            top = collectors.SortingCollector(sorting.FieldFacet("received", reverse=sort == "newest"), limit=limit)
        else:   # every match is scored: no block skipping, so the hit set (and the facets) are exact
            top = collectors.TopCollector(limit, usequality=False)
        hit_bits = _HitBits(top)
        collector = collectors.FilterCollector(hit_bits, filt, mask) if (filt is not None or mask is not None) \
            else hit_bits
        s.search_with_collector(to_whoosh(query), collector)
        results = collector.results()
        hits = []
        for h in results[(page - 1) * per_page: page * per_page]:
            stored = h.fields()
            hits.append(Hit(uid=stored["uid"], record_id=stored["record_id"], serial=stored["serial"],
                            score=float(h.score or 0.0)))
        matched = int.from_bytes(hit_bits.bits, "little")
        return HitPage(total=matched.bit_count(), hits=hits, facets=self._facet_counts(s, matched, facets))

    def _facet_counts(self, searcher: Searcher, matched: int, facets: tuple) -> dict[str, dict[str, int]]:
        """Facet counts of the matched documents (a bit per global document number): for each
        segment, the matched bits under each value's bits (kept per segment, which never
        changes once written), counted in C."""
        counts: dict[str, dict[str, int]] = {f: {} for f in facets}
        if not matched or not facets:
            return counts
        for sub, offset in searcher.leaf_searchers():
            reader = sub.reader()
            local = (matched >> offset) & ((1 << reader.doc_count_all()) - 1)
            if not local:
                continue
            masks = self._value_masks(reader, facets)
            for f in facets:
                into = counts[f]
                for value, bits in masks[f].items():
                    n = (local & bits).bit_count()
                    if n:
                        into[value] = into.get(value, 0) + n
        return {f: dict(sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))) for f, c in counts.items()}

    def _value_masks(self, reader, facets: tuple) -> dict[str, dict[str, int]]:
        """Facet field -> value -> bits of the segment's documents holding it (cached by
        segment id: a segment never changes once written, deletions aside, and deleted
        documents never match)."""
        segid = reader.segment().segment_id()
        got = self._masks.get(segid)
        if got is None:
            if len(self._masks) > 512:   # segments merged away long ago
                self._masks.clear()
            got = self._masks[segid] = {}
        for f in facets:
            if f in got:
                continue
            docs: dict = {}
            for docnum, value in enumerate(reader.column_reader(f, translate=True)):
                docs.setdefault(value, []).append(docnum)
            got[f] = {str(v): _bitmap(d, reader.doc_count_all()) for v, d in docs.items()}
        return got

    def similar(self, weighted: dict[str, float], access: Access, *, exclude_uid: str | None = None,
                limit: int = 10) -> list[Hit]:
        if not weighted or access.is_empty:
            return []
        s = self._searcher()
        if s is None:
            return []
        total = sum(weighted.values())
        q = wq.Or([wq.Term("text", t, boost=w) for t, w in weighted.items()])
        filt, mask = self._access_bits(s, access, exclude_uid)
        if filt is not None and not filt:
            return []   # nothing is open to these principals (and Whoosh reads an empty filter as none)
        results = s.search(q, limit=limit, filter=filt, mask=mask, terms=True)
        out = []
        for h in results:
            stored = h.fields()
            matched = {t.decode() if isinstance(t, bytes) else t for f, t in h.matched_terms() if f == "text"}
            share = sum(w for t, w in weighted.items() if t in matched) / total
            out.append(Hit(uid=stored["uid"], record_id=stored["record_id"], serial=stored["serial"],
                           score=float(h.score or 0.0), overlap=share))
        return out

    def doc_frequencies(self, tokens: Iterable[str]) -> dict[str, int]:
        tokens = list(dict.fromkeys(tokens))
        s = self._searcher()
        if s is None:
            return {t: 0 for t in tokens}
        r = s.reader()
        return {t: r.doc_frequency("text", t) for t in tokens}

    def doc_count(self) -> int:
        s = self._searcher()
        return s.doc_count() if s is not None else 0

    def stored_documents(self) -> Iterator[dict]:
        gen = self._generation()
        for _year, path in self._shards(gen).items():
            ix = self._open_shard(path)
            with ix.reader() as r:
                for _docnum, stored in r.iter_docs():
                    yield dict(stored)
            ix.close()

    def describe(self) -> dict:
        gen = self._generation()
        shards = {}
        total_bytes = 0
        for year, path in self._shards(gen).items():
            ix = self._open_shard(path)
            toc = ix._read_toc()
            size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
            total_bytes += size
            shards[str(year)] = {"documents": ix.doc_count(), "segments": len(toc.segments),
                                 "deleted": sum(s.deleted_count() for s in toc.segments), "bytes": size}
            ix.close()
        return {"backend": "whoosh", "generation": gen.name, "key_id": self.key_id, "shards": shards,
                "bytes": total_bytes}

    # -- rebuilding --------------------------------------------------------------------
    def bulk_loader(self) -> BulkLoader:
        return _WhooshBulkLoader(self)

    def _switch_to(self, new_gen: Path) -> None:
        try:
            old: Path | None = self.root / (self.root / "CURRENT").read_text().strip()
        except FileNotFoundError:
            old = None
        _write_atomic(self.root / "CURRENT", new_gen.name)
        self._changed()
        self.close()
        if old is not None and old.is_dir() and old != new_gen:
            shutil.rmtree(old, ignore_errors=True)


def _storage(path: Path):
    from whoosh.filedb.filestore import FileStorage

    return FileStorage(str(path))


class _WhooshBulkLoader(BulkLoader):
    """Fills a new generation one shard at a time (give it the documents grouped by year:
    one writer is open at a time, so memory stays bounded whatever the number of years).
    With ``procs`` > 1 Whoosh's multi-process writer indexes in parallel (its job files hold
    blind tokens only) and keeps the sub-writers' segments (``multisegment``)."""

    def __init__(self, backend: WhooshBackend):
        self.backend = backend
        root = backend.root
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
        for p in root.iterdir():  # a rebuild that crashed earlier
            if p.name.startswith(".rebuild-") and p.is_dir():
                shutil.rmtree(p, ignore_errors=True)
        self.gen = root / f".rebuild-{int(time.time() * 1000)}"
        backend._init_generation(self.gen)
        self.year: int | None = None
        self.writer = None
        self.ix = None
        #: Documents given to the open writer; it is committed (a segment per process) at
        #: ``SEGMENT_DOCS`` per process, so its posting pool never spills to disk.
        self.in_writer = 0

    def _finish_shard(self) -> None:
        if self.writer is not None:
            self.writer.commit(mergetype=NO_MERGE)   # Whoosh would merge the small segments back
            self.ix.close()
        self.writer = self.ix = self.year = None
        self.in_writer = 0

    def _writer_for(self, year: int):
        if year == self.year and self.in_writer >= SEGMENT_DOCS * self.backend.procs:
            self._finish_shard()
        self.in_writer += 1
        if year != self.year:
            self._finish_shard()   # a year seen again later simply adds a segment
            self.in_writer = 1
            self.ix = self.backend._open_shard(self.gen / _shard_name(year), create=True)
            if self.backend.procs > 1:
                self.writer = self.ix.writer(procs=self.backend.procs, multisegment=True,
                                             batchsize=self.backend.BULK_BATCH, limitmb=self.backend.limitmb,
                                             codec=LengthsInMemoryCodec())
            else:
                self.writer = self.ix.writer(limitmb=self.backend.limitmb, codec=LengthsInMemoryCodec())
            self.year = year
        return self.writer

    def add(self, doc: IndexDocument) -> None:
        self._writer_for(doc.year).add_document(**_fields_of(doc))

    def add_text(self, meta: IndexDocument, text: str, blinder) -> None:
        """With several processes, the analysis and blinding happen in the sub-writers: the
        text travels to them encrypted under a hand-off key that only exists in memory
        (inherited when they fork). Otherwise as ``add``."""
        if self.backend.procs <= 1 or not _forks():
            return super().add_text(meta, text, blinder)
        key_id = self.backend.key_id
        if key_id not in _HANDOFF:
            from records.crypto import new_key

            _HANDOFF[key_id] = (new_key(), blinder)
            self._handoff = True
        fields_ = _fields_of(meta)
        fields_["text"] = fields_["chars"] = seal_handoff(key_id, text)
        self._writer_for(meta.year).add_document(**fields_)

    def _forget_handoff(self) -> None:
        if getattr(self, "_handoff", False):
            _HANDOFF.pop(self.backend.key_id, None)
            _LAST_OPENED[:] = [None, None]
            self._handoff = False

    def commit(self) -> None:
        try:
            self._finish_shard()
        finally:
            self._forget_handoff()
        final = self.backend.root / self.backend._new_generation_name()
        os.replace(self.gen, final)
        self.backend._switch_to(final)

    def cancel(self) -> None:
        if self.writer is not None:
            try:
                self.writer.cancel()
            except Exception:  # noqa: BLE001 - best effort while throwing the rebuild away
                pass
        self._forget_handoff()
        self.writer = self.ix = self.year = None
        shutil.rmtree(self.gen, ignore_errors=True)


def _forks() -> bool:
    """Whoosh's sub-writers are started by forking (so they inherit the in-memory keys)."""
    import multiprocessing

    return multiprocessing.get_context().get_start_method() == "fork"
