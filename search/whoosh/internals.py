"""Every use of Whoosh's private API, in one place: this module mirrors Whoosh-Reloaded 2.7.5.

The rest of ``search.whoosh`` speaks Whoosh's public API only (schemas, formats, indexes,
writers, searchers, readers' public methods, merge policies). What it cannot do that way —
read faster than Whoosh reads, or read what Whoosh keeps to itself — it asks of this
module, and nothing else imports Whoosh's codec layer or touches a name with a leading
underscore. A new Whoosh release may change any of the pieces below without notice, so the
version is pinned exactly in ``pyproject.toml`` and ``check_version`` refuses to build a
backend over another one. To move to a new release: diff each borrowed piece below against
its source there, adapt, run ``tests/search/test_whoosh_codec.py`` and
``tests/search/test_whoosh_exec.py`` (they compare with stock Whoosh), then change
``MIRRORS`` and the pin together.

What is borrowed, and from where (paths in the ``whoosh`` package of 2.7.5):

1. **Lengths read once** (``LengthsInMemoryCodec``, ``_LengthsInMemoryReader``):
   subclasses ``codec/whoosh3.py``'s ``W3Codec`` (its ``_blocklimit``, ``_compression``,
   ``_inlinelimit``) and ``W3PerDocReader`` (``_doccount``, ``_get_column_file``, the
   length column name of ``_lenfield``) to read a segment's field lengths (one byte a
   document) into a list once per field.
2. **Lean posting writer** (``_LeanFieldWriter``): ``W3FieldWriter.add_postings`` with
   ``FieldWriter.add_postings`` (``codec/base.py``) and ``W3PostingsWriter.add_posting``
   inlined — it drives the postings writer's ``_postwriter``, ``_ids``, ``_weights``,
   ``_values``, ``_maxweight``, ``_minlength``, ``_maxlength``, ``_blocklimit`` and
   ``_write_block``. Writes the same bytes (checked against stock Whoosh).
3. **Compound segments read in place** (``_ViewIO``, ``_ViewFile``, ``_ViewCompound``,
   ``segment_reader``): ``filedb/structfile.py``'s ``BufferFile`` (its ``file`` and
   ``_name``), ``filedb/compound.py``'s ``CompoundStorage`` (``_source``, ``range``,
   ``is_closed``), and ``reading.py``'s ``SegmentReader.__init__`` replaced: the same
   attributes (``_segment``, ``_segid``, ``_gen``, ``_storage``, ``_codec``, ``_terms``,
   ``_perdoc``) set over the in-place compound storage.
4. **A reader's parts** (``terms_of``, ``length_table``, ``deleted_docs``,
   ``open_terms``, ``side_postings``): a ``SegmentReader``'s ``_terms``, ``_perdoc``,
   ``_segment`` and ``_storage``; a segment's terms reader opened alone through
   ``Segment.codec().terms_reader``; the field writer's ``_create_file`` (the side
   postings file of ``sidecar``, written when the field writer closes).
5. **Posting blocks as arrays** (``raw_postings``, ``doc_frequency``): ``W3LeafMatcher``'s
   ``_read_data``, ``_data`` (the block's ids, delta-encoded unless ``_byteids``, weights:
   None, one float or an array, and values), ``_read_values``, ``_values``, ``_maxid``,
   ``_blocklength``, ``_next_block``; a terms reader's ``doc_frequency``.
6. **Positions, pickled** (``positions``): how ``formats.Positions`` encodes a posting
   value — a 4-byte count, then the gaps between positions as a protocol-2 pickle of one
   list — read for many documents with one ``pickle.loads``.
7. **Tables of contents** (``toc``, ``toc_generation``, ``writer_segments``,
   ``remove_unreferenced``): ``index.py``'s ``FileIndex._read_toc``, the file name of a
   table of contents (``_MAIN_<generation>.toc``), ``SegmentWriter.segments``, and the
   undocumented ``index.clean_files``.
"""
from __future__ import annotations

import functools
import importlib.metadata
# pickle reads only the index's own posting values, as Whoosh itself does (positions)
import pickle  # nosec B403
import re
from itertools import chain, repeat

import numpy as np
from whoosh import index as windex
from whoosh.codec.base import OutOfOrderError
from whoosh.codec.whoosh3 import W3Codec, W3FieldWriter, W3LeafMatcher, W3PerDocReader, _lenfield
from whoosh.filedb.compound import CompoundStorage
from whoosh.filedb.filestore import OverlayStorage
from whoosh.filedb.structfile import BufferFile
from whoosh.reading import SegmentReader
from whoosh.util.numeric import byte_to_length

from records.errors import ConfigurationError

from . import sidecar

#: The Whoosh-Reloaded release whose internals this module mirrors (pinned in pyproject.toml).
MIRRORS = "2.7.5"
DISTRIBUTION = "Whoosh-Reloaded"


# -- the version ---------------------------------------------------------------------------
@functools.cache
def installed_version() -> str | None:
    """The installed Whoosh-Reloaded release (None: not installed as that distribution)."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_version() -> None:
    """ConfigurationError unless the installed Whoosh-Reloaded is the release mirrored here."""
    found = installed_version()
    if found == MIRRORS:
        return
    what = f"{DISTRIBUTION} {found} is installed" if found else f"{DISTRIBUTION} is not installed"
    raise ConfigurationError(
        f"{what}; this build mirrors {MIRRORS}'s internals (search/whoosh/internals.py). "
        f"Install {MIRRORS}: pip install '{DISTRIBUTION}=={MIRRORS}'")


# -- 1, 2. the codec -----------------------------------------------------------------------
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
        pw = lens = side = None
        sides = self.__dict__.setdefault("_side", sidecar.Collector())
        for fieldname, btext, docnum, weight, value in items:
            if fieldname != lastfn:
                if lasttext is not None:
                    self.finish_term()
                if lastfn is not None:
                    self.finish_field()
                if lastfn is not None and fieldname < lastfn:
                    raise OutOfOrderError(f"Field {lastfn!r} .. {fieldname!r}")
                self.start_field(fieldname, schema[fieldname])
                side = sides.field(fieldname, schema[fieldname].format)
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
                if side is not None:
                    sides.term(side, btext)
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
            if side is not None:
                side["ids"].append(docnum)
                side["weights"].append(weight)
                side["values"].append(value)
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

    def close(self):
        """Close Whoosh's files, and write the segment's side postings (``sidecar``)."""
        sides = self.__dict__.pop("_side", None) or sidecar.Collector()
        fh = self._create_file(sidecar.EXT)
        try:
            sides.write(fh, positions)
        finally:
            fh.close()
        super().close()


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


# -- 3. compound segments read in place ----------------------------------------------------
#: Most bytes ``_ViewIO.peek`` hands out (a posting block's header pickle is about 30).
_PEEK = 512


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

    def peek(self, n: int = 0) -> bytes:
        """Bytes from the current position without moving it, at most ``_PEEK``: ``pickle.load``
        reads ahead through it, then reads what it used (without it, one ``read`` an opcode:
        a posting block's header is about 20)."""
        return bytes(self._buf[self._pos:self._pos + min(max(n, 1), _PEEK)])

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


def segment_reader(storage, schema, segment, *, generation=None, codec=None) -> SegmentReader:
    """A reader of one segment that reads a compound segment in place."""
    return _SegmentReader(storage, schema, segment, generation=generation, codec=codec)


# -- 4. a reader's parts -------------------------------------------------------------------
def terms_of(reader):
    """The terms reader of a segment reader."""
    return reader._terms


def length_table(reader, field: str) -> list | None:
    """Every document's length of ``field`` in a segment opened with ``LengthsInMemoryCodec``
    (None: the segment keeps no lengths of it)."""
    return reader._perdoc.length_table(field)


def deleted_docs(reader) -> np.ndarray:
    """Document numbers deleted in a segment."""
    return np.fromiter(reader._perdoc.deleted_docs(), dtype=np.int64)


def side_postings(reader) -> sidecar.SidePostings | None:
    """The side postings of a segment reader's segment, read in place and kept on the reader
    (None: the segment was written before they were, so its postings are read from Whoosh's
    blocks)."""
    got = reader.__dict__.get("_side_postings", False)
    if got is False:
        name = reader._segment.make_filename(sidecar.EXT)
        got = None
        if reader._storage.file_exists(name):
            f = reader._storage.open_file(name)
            buf = f._buf if isinstance(f, _ViewFile) else f.read()
            got = sidecar.SidePostings(buf)
            if not isinstance(f, _ViewFile):
                f.close()
        reader.__dict__["_side_postings"] = got
    return got


def open_terms(storage, segment) -> tuple:
    """A segment's terms reader alone (and the compound file it reads from, if any)."""
    files = _open_compound(storage, segment) if segment.is_compound() else None
    return segment.codec().terms_reader(files or storage, segment), files


def close_terms(opened: tuple) -> None:
    terms, files = opened
    terms.close()
    if files is not None:
        files.close()


# -- 5. posting blocks as arrays -----------------------------------------------------------
_EMPTY_IDS = np.zeros(0, dtype=np.int32)
_EMPTY_WEIGHTS = np.zeros(0, dtype=np.float64)


def raw_postings(terms, schema, field: str, term: str, values: bool = False, want: np.ndarray | None = None):
    """Document numbers (deleted ones included), weights and, with ``values``, the raw
    posting values of ``field:term`` in one segment (``terms``: its terms reader), read a
    block at a time. With ``want`` (sorted document numbers), only the blocks whose range of
    documents holds one of them are read (a block's last document is in its header, so a
    block skipped is never decompressed): the postings returned are then a subset that holds
    every posting of a ``want`` document."""
    schema_field = schema[field]
    text = schema_field.to_bytes(term)
    if (field, text) not in terms:
        return _EMPTY_IDS, _EMPTY_WEIGHTS, []
    m = terms.matcher(field, text, schema_field.format)
    if isinstance(m, W3LeafMatcher):
        return _block_postings(m, values, want)
    ids, weights, vals = [], [], []
    while m.is_active():   # a short list kept in the term's entry
        ids.append(m.id())
        weights.append(m.weight())
        if values:
            vals.append(m.value())
        m.next()
    return np.asarray(ids, dtype=np.int32), np.asarray(weights, dtype=np.float64), vals


def _block_postings(m, values: bool, want: np.ndarray | None):
    """``raw_postings`` of a list kept in blocks: each block's data (ids, weights, values) as
    ``W3LeafMatcher._read_data`` reads it, the ids delta-decoded as arrays (Whoosh decodes
    them one by one in a generator)."""
    ids, weights, vals = [], [], []
    first = 0   # the smallest document number the current block can hold
    while m.is_active():
        last = m._maxid
        if want is not None:
            at = int(np.searchsorted(want, first))
            if at >= len(want) or want[at] > last:
                first = last + 1
                m._next_block()
                continue
        first = last + 1
        m._read_data()
        block_ids, block_weights, block_values = m._data
        n = m._blocklength
        if m._byteids:
            ids.append(np.asarray(block_ids, dtype=np.int32))
        else:
            ids.append(np.cumsum(np.asarray(block_ids, dtype=np.int64)).astype(np.int32))
        if block_weights is None:
            weights.append(np.ones(n, dtype=np.float64))
        elif isinstance(block_weights, float):
            weights.append(np.full(n, np.float32(block_weights), dtype=np.float64))   # array('f') as Whoosh
        else:
            weights.append(np.asarray(block_weights, dtype=np.float64)[:n])
        if values:
            m._read_values()
            vals.extend(m._values)
        m._next_block()
    if not ids:
        return _EMPTY_IDS, _EMPTY_WEIGHTS, []
    return np.concatenate(ids), np.concatenate(weights), vals


def doc_frequency(terms, schema, field: str, term: str) -> int:
    """How many documents of a segment hold ``field:term``, deleted ones included, from the
    term's entry (no posting is read)."""
    text = schema[field].to_bytes(term)
    if (field, text) not in terms:
        return 0
    return terms.doc_frequency(field, text)


# -- 6. positions, pickled -----------------------------------------------------------------
# How Whoosh's ``Positions`` format writes a document's positions: the count (4 bytes), then
# the gaps between positions as a protocol-2 pickle of one list, its trailing STOP optional.

def positions(values: list[bytes], fmt) -> tuple[np.ndarray, np.ndarray]:
    """The positions of several documents' posting values at once: how many each document
    has, and all of them in a row. The values' pickled gap lists are joined into one pickle
    of a list of lists, so one ``loads`` reads them all (Whoosh's ``decode_positions``
    unpickles one document at a time); a value of one position met before (most are: most
    pairs occur once in a letter) is looked up by its bytes instead (``_ONE_POSITION``)."""
    if not values:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    known = _ONE_POSITION
    position = np.fromiter(map(known.get, values, repeat(-1)), dtype=np.int64, count=len(values))
    rest = np.nonzero(position < 0)[0]
    if not len(rest):
        return np.ones(len(values), dtype=np.int64), position
    rest_values = [values[i] for i in rest.tolist()]
    rest_counts, rest_flat = _positions_pickled(rest_values, fmt)
    if len(known) < _ONE_POSITION_LIMIT:   # values of one position met: known from now on
        for value, n, at in zip(rest_values, rest_counts.tolist(), (np.cumsum(rest_counts) - rest_counts).tolist()):
            if n == 1:
                known[value] = int(rest_flat[at])
    counts = np.ones(len(values), dtype=np.int64)
    counts[rest] = rest_counts
    begin = np.cumsum(counts) - counts          # where each document's positions go
    flat = np.empty(int(counts.sum()), dtype=np.int64)
    one = position >= 0
    flat[begin[one]] = position[one]
    rest_begin = np.cumsum(rest_counts) - rest_counts
    flat[np.repeat(begin[rest] - rest_begin, rest_counts) + np.arange(len(rest_flat))] = rest_flat
    return counts, flat


#: The position of a posting value holding one position, by value (its bytes): positions are
#: small numbers shared by every letter (the writer memoises these values too, ``codec``),
#: so a few thousand entries serve every block; a dictionary look-up instead of a pickle.
_ONE_POSITION: dict[bytes, int] = {}
_ONE_POSITION_LIMIT = 1 << 16


def _positions_pickled(values: list[bytes], fmt) -> tuple[np.ndarray, np.ndarray]:
    """``positions`` of values read through pickle (all of a list at once when they allow)."""
    gaps = _gaps_at_once(values)
    if gaps is None:
        gaps = gaps_one_by_one(values, fmt)
    counts = np.fromiter(map(len, gaps), dtype=np.int64, count=len(gaps))
    flat = np.fromiter(chain.from_iterable(gaps), dtype=np.int64, count=int(counts.sum()))
    running = np.concatenate(([0], np.cumsum(flat)))
    first = np.cumsum(counts) - counts          # where each document's gaps begin
    return counts, running[1:] - np.repeat(running[first], counts)


def _gaps_at_once(values: list[bytes]) -> list[list[int]] | None:
    """The gap lists of values written as ``positions`` expects, with one ``loads``: each
    value's 4-byte count and protocol mark cut and its STOP, if any, dropped, as masks over
    the joined bytes rather than a slice per value (None: a value is not such a pickle)."""
    if not values:
        return []
    joined = b"".join(values)
    raw = np.frombuffer(joined, dtype=np.uint8)
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    if int(lengths.min()) < 6:
        return None
    ends = np.cumsum(lengths)
    begins = ends - lengths
    if not (np.all(raw[begins + 4] == 0x80) and np.all(raw[begins + 5] == 0x02)):
        return None
    keep = np.ones(len(raw), dtype=bool)
    for k in range(6):
        keep[begins + k] = False
    last = ends - 1
    keep[last[raw[last] == ord(".")]] = False
    # The index's own postings, read as Whoosh itself reads them (whoosh.formats).
    return pickle.loads(b"\x80\x02(" + raw[keep].tobytes() + b"l.")  # nosec B301


def gaps_one_by_one(values: list[bytes], fmt) -> list[list[int]]:
    """Gap lists of values not written as ``positions`` expects (the format's own decoder)."""
    out = []
    for v in values:
        found = fmt.decode_positions(v)
        out.append([b - a for a, b in zip([0, *found[:-1]], found, strict=True)])
    return out


# -- 7. tables of contents -----------------------------------------------------------------
def toc(ix):
    """The index's current table of contents: ``.generation``, ``.schema``, ``.segments``."""
    return ix._read_toc()


def toc_generation(indexname: str, filename: str) -> int | None:
    """The generation of a table-of-contents file of index ``indexname`` (None: not one)."""
    m = re.match(r"^_" + re.escape(indexname) + r"_(\d+)\.toc$", filename)
    return int(m.group(1)) if m else None


def writer_segments(writer) -> list:
    """The segments a writer started from (the ones its document numbers count over)."""
    return writer.segments


def remove_unreferenced(ix, indexname: str) -> None:
    """Remove the files of the index no current table of contents refers to (old tables,
    segments merged away or left by a writer that crashed). Call it under the write lock."""
    current = toc(ix)
    windex.clean_files(ix.storage, indexname, current.generation, current.segments)
