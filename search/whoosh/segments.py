"""Segments: when they are merged, and the readers of them kept between writes and searches.

A segment never changes once written (a deletion only adds to its deleted set), so a reader
of it can serve for as long as the segment lives: a search after a registration opens only
the new segment, and a write looks up the documents it replaces in terms readers it already
has open.
"""
from __future__ import annotations

import math
import threading
import time
from pathlib import Path

from whoosh.reading import MultiReader
from whoosh.searching import Searcher

from . import internals
from .codec import codec

#: Segments of similar size are merged once there are this many of them (log-structured).
TIER_FACTOR = 10
#: Documents per segment a rebuild writes, and the size from which a segment is no longer
#: merged with others (only rewritten alone to purge deletions). Whoosh sorts a segment's
#: postings in memory up to its pool limit (``limitmb``) and beyond it spills every posting
#: to disk and back, one pickle each: about a quarter of the time of a rebuild. A letter of
#: ~370 characters makes ~500 postings, so 2,000 letters stay inside 256 MB.
SEGMENT_DOCS = 2000
#: Tries at opening a consistent set of segments while writers commit beside the reader.
OPEN_ATTEMPTS = 5


# -- merging -------------------------------------------------------------------------------
def _tier(segment) -> int:
    return int(math.log(max(segment.doc_count_all(), 1), TIER_FACTOR))


def tiers_to_merge(segments) -> list:
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


def _rewrite(writer, segment) -> None:
    reader = internals.segment_reader(writer.storage, writer.schema, segment, codec=writer.codec)
    writer.add_reader(reader)
    reader.close()


def TIERED(writer, segments):
    """Merge policy: merge the segments of a size tier (1-9, 10-99, 100-999… documents) once
    it holds ``TIER_FACTOR`` of them, so a shard keeps few segments and each document is
    rewritten a logarithmic number of times. Segments of ``SEGMENT_DOCS`` documents or more
    are left as they are, and a merge writes about that many at most: a shard gains a
    segment about every 2,000 letters, and no merge ever rewrites the whole shard."""
    merge = tiers_to_merge(segments)
    for seg in merge:
        _rewrite(writer, seg)
    return [seg for seg in segments if seg not in merge]


def PURGE_DELETED(writer, segments):
    """Merge policy: rewrite every segment holding deleted documents (so their terms and
    stored fields are physically gone) and keep the others as they are."""
    keep = []
    for seg in segments:
        if seg.has_deletions():
            _rewrite(writer, seg)
        else:
            keep.append(seg)
    return keep


# -- terms readers kept for writing ----------------------------------------------------------
class HeldTerms:
    """Each shard's segments' terms readers, kept between writes, to find the documents a
    write replaces (what Whoosh's ``update_document`` does, without opening a reader of
    every segment of the shard for each write)."""

    def __init__(self, holders):
        #: ``holders(terms, schema, field, term)``: document numbers of a segment holding a term.
        self._holders = holders
        self._readers: dict = {}
        self._lock = threading.Lock()

    def delete(self, year: int, writer, uids: list[str]) -> None:
        """Mark deleted, in ``writer``, the documents of ``uids`` its segments hold."""
        with self._lock:
            kept, now = self._readers.get(year, {}), {}
            self._readers[year] = now
            offset = 0
            try:
                for segment in internals.writer_segments(writer):
                    key = segment.segment_id()
                    now[key] = kept.pop(key, None) or internals.open_terms(writer.storage, segment)
                    terms = now[key][0]
                    for uid in uids:
                        for docnum in self._holders(terms, writer.schema, "uid", uid):
                            writer.delete_document(offset + docnum)
                    offset += segment.doc_count_all()
            finally:
                for opened in kept.values():   # segments merged away
                    internals.close_terms(opened)

    def close(self) -> None:
        with self._lock:
            for shard in self._readers.values():
                for opened in shard.values():
                    internals.close_terms(opened)
            self._readers = {}


# -- searchers -------------------------------------------------------------------------------
class Searchers:
    """Each thread's searcher over every shard of a generation, brought up to date when the
    index changed. Readers of segments that did not change are kept (opening one reads its
    term index)."""

    def __init__(self, root: Path, shards, shard_paths):
        self._root = root
        self._shards = shards
        self._shard_paths = shard_paths
        self._local = threading.local()

    def get(self, state: tuple, refresh) -> Searcher | None:
        """The searcher of ``state`` (the generation's name first, then anything that changes
        when the index does); ``refresh()`` gives the state anew after a failed open."""
        local = self._local
        if getattr(local, "state", None) == state:
            return local.searcher
        kept = getattr(local, "readers", {})
        local.searcher, local.state = None, None
        for attempt in range(OPEN_ATTEMPTS):
            try:
                readers = self._open_leaves(self._root / state[0], kept)
                break
            except FileNotFoundError:
                # A writer committed between our reading a table of contents and opening the
                # segments it names (a merge removes the old ones): read the new one.
                if attempt == OPEN_ATTEMPTS - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))
                state = refresh()
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
            for path in self._shard_paths(gen).values():
                ix = self._shards.open(path)
                toc = internals.toc(ix)
                for segment in toc.segments:
                    if not segment.doc_count_all():
                        continue
                    key, deleted = segment.segment_id(), segment.deleted_count()
                    old = kept.get(key)
                    if old is not None and old[0] == deleted:
                        readers[key] = old
                        continue
                    r = internals.segment_reader(ix.storage, toc.schema, segment, generation=toc.generation,
                                                 codec=codec())
                    opened.append(r)
                    readers[key] = (deleted, r)
        except FileNotFoundError:
            for r in opened:
                r.close()
            raise
        return readers

    def close(self) -> None:
        """Close this thread's searcher (its open files)."""
        for _deleted, reader in getattr(self._local, "readers", {}).values():
            reader.close()
        self._local.readers = {}
        self._local.searcher = self._local.state = None
