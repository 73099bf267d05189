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

import numpy as np
from whoosh import fields, formats, index as windex, query as wq
from whoosh.analysis import Token, Tokenizer
from whoosh.codec.base import OutOfOrderError
from whoosh.codec.whoosh3 import W3Codec, W3FieldWriter, W3PerDocReader, _lenfield
from whoosh.filedb.compound import CompoundStorage
from whoosh.filedb.filestore import OverlayStorage
from whoosh.filedb.structfile import BufferFile
from whoosh.reading import MultiReader, SegmentReader
from whoosh.searching import Searcher
from whoosh.util.numeric import byte_to_length
from whoosh.writing import NO_MERGE

from . import whoosh_exec
from .interface import (  # noqa: F401 - IndexKeyMismatch is still importable from here
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
            pw._maxweight = max(pw._maxweight, weight)
            if value:
                pw._values.append(value)
            if lens is not None:
                length = lens[docnum] if docnum < len(lens) else None
            else:
                length = lengths.doc_field_length(docnum, fieldname) if per_posting else None
            if length:
                if pw._minlength is None or length < pw._minlength:
                    pw._minlength = length
                pw._maxlength = max(pw._maxlength, length)
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
        reader = _SegmentReader(writer.storage, writer.schema, seg, codec=writer.codec)
        writer.add_reader(reader)
        reader.close()
    return [seg for seg in segments if seg not in merge]


def PURGE_DELETED(writer, segments):
    """Merge policy: rewrite every segment holding deleted documents (so their terms and
    stored fields are physically gone) and keep the others as they are."""
    keep = []
    for seg in segments:
        if seg.has_deletions():
            reader = _SegmentReader(writer.storage, writer.schema, seg, codec=writer.codec)
            writer.add_reader(reader)
            reader.close()
        else:
            keep.append(seg)
    return keep


def to_whoosh(node: Node):
    """The query of a backend-neutral query tree as Whoosh's own query objects. Searches do
    not run through it (``whoosh_exec`` runs them on arrays); it is the reference they are
    tested against, and the plaintext Whoosh peer's query in the search benchmark."""
    if isinstance(node, Everything):
        return wq.Every()
    if isinstance(node, TextTerm):
        return wq.Term("text", node.token)
    if isinstance(node, Phrase):
        if len(node.tokens) == 1:
            return wq.Term("text", node.tokens[0])
        return wq.Phrase("text", list(node.tokens))
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
        return wq.Not(to_whoosh(node.item))
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

    def __init__(self, root: Path, key_id: str, *, procs: int = 1, limitmb: int = 256,
                 cache_bytes: int = whoosh_exec.DEFAULT_BUDGET):
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
        #: Year -> segment id -> terms reader, kept between writes (see ``_delete_held``).
        self._terms_readers: dict = {}
        self._terms_lock = threading.Lock()
        #: Arrays of segments kept between queries (see ``whoosh_exec``).
        self._cache = whoosh_exec.SegmentCache(cache_bytes)

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
                items = list({d.uid: d for d in items}.values())   # the last of a uid given twice
                self._delete_held(year, w, [d.uid for d in items])
                for d in items:
                    w.add_document(**_fields_of(d))
                    written += 1
            except BaseException:
                w.cancel()
                raise
            w.commit(mergetype=TIERED if merge else NO_MERGE)
            ix.close()
        self._changed()
        return written

    def _delete_held(self, year: int, w, uids: list[str]) -> None:
        """Mark deleted the documents of ``uids`` that the writer's segments hold (what
        Whoosh's ``update_document`` does, without opening a reader of every segment of
        the shard for each write: a segment's terms reader is kept between writes, as a
        segment never changes once written)."""
        with self._terms_lock:
            kept, now = self._terms_readers.get(year, {}), {}
            self._terms_readers[year] = now
            offset = 0
            try:
                for segment in w.segments:
                    key = segment.segment_id()
                    now[key] = kept.pop(key, None) or _open_terms(w.storage, segment)
                    terms = now[key][0]
                    for uid in uids:
                        for docnum in whoosh_exec.holders(terms, w.schema, "uid", uid):
                            w.delete_document(offset + docnum)
                    offset += segment.doc_count_all()
            finally:
                for opened in kept.values():   # segments merged away
                    _close_terms(opened)

    def maintain(self) -> int:
        """Merge segments where the tiered policy says so; returns how many shards merged."""
        merged = 0
        for path in self._shards().values():
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
        for path in self._shards(gen).values():
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
            for path in self._shards(gen).values():
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
                    r = _SegmentReader(ix.storage, toc.schema, segment, generation=toc.generation,
                                       codec=LengthsInMemoryCodec())
                    opened.append(r)
                    readers[key] = (deleted, r)
        except FileNotFoundError:
            for r in opened:
                r.close()
            raise
        return readers

    def _close_searcher(self) -> None:
        """Close this thread's cached searcher (its open files)."""
        for _deleted, reader in getattr(self._local, "readers", {}).values():
            reader.close()
        self._local.readers, self._local.searcher, self._local.state = {}, None, None

    def close(self) -> None:
        """Close this thread's cached searcher and the terms readers kept for writing."""
        self._close_searcher()
        with self._terms_lock:
            for shard in self._terms_readers.values():
                for opened in shard.values():
                    _close_terms(opened)
            self._terms_readers = {}

    def warm(self) -> None:
        """Build every segment's lengths, sort column, facet codes and live mask (shared by
        the threads of this process); the searcher opened for it is this thread's."""
        s = self._searcher()
        if s is None:
            return
        for leaf in whoosh_exec.leaves(s, self._cache):
            leaf.lengths("text")
            leaf.lengths("chars")
            leaf.column("received")
            leaf.live()
            for f in FACETS:
                leaf.codes(f)
        self._close_searcher()

    # -- queries, run on arrays (``whoosh_exec``) ---------------------------------------------
    def _allow(self, access: Access, exclude_uid: str | None = None):
        """A segment's mask of the documents ``access`` lets through (None: all): holding one
        of the principals, and neither refused to the user, nor excluded by the database,
        nor ``exclude_uid``."""
        principals = tuple(sorted(access.principals)) if access.principals is not None else None
        masks = [("denied", d) for d in sorted(access.denied)]
        masks += [("uid", u) for u in sorted(access.excluded_uids | ({exclude_uid} if exclude_uid else set()))]

        def allowed_to(leaf: whoosh_exec.Leaf) -> np.ndarray:
            mask = np.zeros(leaf.n, dtype=bool)
            for p in principals:
                mask |= leaf.term_mask("allowed", p)
            return mask

        def allow(leaf: whoosh_exec.Leaf) -> np.ndarray | None:
            out = None
            if principals is not None:
                out = self._cache.get((leaf.segid, "allow", principals), lambda: allowed_to(leaf))
            for field, term in masks:
                ids = leaf.postings(field, term)[0]
                if len(ids):
                    out = np.ones(leaf.n, dtype=bool) if out is None else out.copy()
                    out[ids] = False
            return out
        return allow

    def _run(self, searcher: Searcher, match, access: Access, exclude_uid: str | None = None):
        stats = whoosh_exec.Stats(searcher)
        return whoosh_exec.run(whoosh_exec.leaves(searcher, self._cache), lambda leaf: match(leaf, stats),
                               self._allow(access, exclude_uid))

    def search(self, query: Node, access: Access, *, sort: str = "relevance", page: int = 1,
               per_page: int = 20, facets: Iterable[str] = FACETS) -> HitPage:
        facets = tuple(facets)
        empty = HitPage(total=0, hits=[], facets={f: {} for f in facets})
        if access.is_empty:
            return empty
        s = self._searcher()
        if s is None:
            return empty
        page = max(1, int(page))
        matched = self._run(s, lambda leaf, stats: whoosh_exec.evaluate(query, leaf, stats), access)
        if sort in ("newest", "oldest"):
            order = matched.top(page * per_page, whoosh_exec.sort_keys(matched, "received"),
                                descending=sort == "newest")
        else:
            order = matched.top(page * per_page)
        hits = [self._hit(s, matched, i) for i in order[(page - 1) * per_page:].tolist()]
        return HitPage(total=len(matched.docnums), hits=hits, facets=whoosh_exec.facet_counts(matched, facets))

    @staticmethod
    def _hit(searcher: Searcher, matched: whoosh_exec.Matched, i: int, **extra) -> Hit:
        stored = searcher.stored_fields(int(matched.docnums[i]))
        return Hit(uid=stored["uid"], record_id=stored["record_id"], serial=stored["serial"],
                   score=float(matched.scores[i]), **extra)

    def similar(self, weighted: dict[str, float], access: Access, *, exclude_uid: str | None = None,
                limit: int = 10) -> list[Hit]:
        if not weighted or access.is_empty:
            return []
        s = self._searcher()
        if s is None:
            return []
        total = sum(weighted.values())
        matched = self._run(s, lambda leaf, stats: whoosh_exec.weighted(weighted, leaf, stats), access, exclude_uid)
        out = []
        for i in matched.top(limit).tolist():
            docnum = int(matched.docnums[i])
            leaf = next(leaf for leaf, _l in matched.parts if leaf.offset <= docnum < leaf.offset + leaf.n)
            held = sum(w for t, w in weighted.items() if leaf.holds("text", t, docnum - leaf.offset))
            out.append(self._hit(s, matched, i, overlap=held / total))
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
        for path in self._shards(gen).values():
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


class _ViewIO:
    """A read-only file over a memoryview that reads it in place (``io.BytesIO`` copies it)."""

    __slots__ = ("_buf", "_pos")

    def __init__(self, buf: memoryview):
        self._buf, self._pos = buf, 0

    def read(self, n: int | None = -1) -> bytes:
        start = self._pos
        if start >= len(self._buf):
            return b""
        end = len(self._buf) if n is None or n < 0 else min(len(self._buf), start + n)
        self._pos = end
        return bytes(self._buf[start:end])

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)

    def readline(self, limit: int = -1) -> bytes:
        stop = len(self._buf) if limit is None or limit < 0 else min(len(self._buf), self._pos + limit)
        end = self._pos
        while end < stop and self._buf[end] != 10:
            end += 1
        return self.read(min(end + 1, stop) - self._pos)

    def seek(self, pos: int, whence: int = 0) -> int:
        if whence == 0 and pos < 0:
            raise ValueError(f"negative seek value {pos}")
        self._pos = pos if whence == 0 else max(0, (self._pos if whence == 1 else len(self._buf)) + pos)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def close(self) -> None:
        pass


class _ViewFile(BufferFile):
    """Whoosh's ``BufferFile`` over a part of a mapped compound segment, read in place."""

    def __init__(self, buf: memoryview, name=None, onclose=None):
        super().__init__(b"", name=name, onclose=onclose)
        self._buf, self.file = buf, _ViewIO(buf)

    def subset(self, position, length, name=None):
        return _ViewFile(self._buf[position:position + length], name=name or self._name)


class _ViewCompound(CompoundStorage):
    """Whoosh's compound segment storage, handing out files that read the mapped segment in
    place: Whoosh's copy every file of the segment into memory, so each thread's searcher
    held a private copy of the whole index (about 250 MB a thread at 100,000 letters)."""

    def open_file(self, name, *args, **kwargs):
        if self.is_closed or not self._source:
            return super().open_file(name, *args, **kwargs)
        offset, length = self.range(name)
        return _ViewFile(memoryview(self._source)[offset:offset + length], name=name)


def _open_compound(storage, segment) -> _ViewCompound:
    return _ViewCompound(storage.open_file(segment.make_filename(segment.COMPOUND_EXT)),
                         use_mmap=storage.supports_mmap)


class _SegmentReader(SegmentReader):
    """Whoosh's segment reader, reading a compound segment in place (see ``_ViewCompound``)."""

    def __init__(self, storage, schema, segment, generation=None, codec=None):   # noqa: PLW0231
        # SegmentReader.__init__, but for the compound storage it opens
        self.schema = schema
        self.is_closed = False
        self._segment = segment
        self._segid = segment.segment_id()
        self._gen = generation
        self._storage = OverlayStorage(_open_compound(storage, segment), storage) if segment.is_compound() \
            else storage
        self._codec = codec if codec else segment.codec()
        self._terms = self._codec.terms_reader(self._storage, segment)
        self._perdoc = self._codec.per_document_reader(self._storage, segment)


def _open_terms(storage, segment) -> tuple:
    """A segment's terms reader alone (and the compound file it reads from, if any)."""
    files = _open_compound(storage, segment) if segment.is_compound() else None
    return segment.codec().terms_reader(files or storage, segment), files


def _close_terms(opened: tuple) -> None:
    terms, files = opened
    terms.close()
    if files is not None:
        files.close()


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
