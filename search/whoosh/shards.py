"""Shards by year: one Whoosh index per year of receipt inside a generation.

Sharding by year keeps a purge bounded: destroying a (region, year) batch rewrites the
segments of that year's shard that hold deleted documents, never the whole archive. Each
shard is an ordinary Whoosh index named ``MAIN`` in its folder ``y<year>``.
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from whoosh import index as windex

from ..interface import IndexKeyMismatch
from . import internals, storage
from .codec import codec
from .schema import key_id_of
from .segments import PURGE_DELETED, TIERED, tiers_to_merge

INDEX_NAME = "MAIN"
_SHARD_RE = re.compile(r"^y(\d{4})$")


def shard_name(year: int) -> str:
    return f"y{int(year):04d}"


def shard_tocs(gen: Path) -> dict[int, tuple[Path, int]]:
    """Year -> (folder, latest table-of-contents generation), one directory listing each."""
    out = {}
    for entry in os.scandir(gen):
        m = _SHARD_RE.match(entry.name)
        if not m or not entry.is_dir():
            continue
        tocs = [g for f in os.listdir(entry.path) if (g := internals.toc_generation(INDEX_NAME, f)) is not None]
        if tocs:
            out[int(m.group(1))] = (Path(entry.path), max(tocs))
    return dict(sorted(out.items()))


def shard_paths(gen: Path) -> dict[int, Path]:
    """Year -> folder of every shard of a generation, oldest year first."""
    return {year: path for year, (path, _toc) in shard_tocs(gen).items()}


class Shards:
    """Opening, writing and tidying the shards of an index built with one blind-token key."""

    def __init__(self, key_id: str, schema, *, limitmb: int = 256):
        self.key_id = key_id
        self.schema = schema
        self.limitmb = limitmb

    def open(self, path: Path, *, create: bool = False):
        """The shard's index (None when it does not exist and ``create`` is false);
        IndexKeyMismatch when it was built with another key or cannot be read by this version."""
        if windex.exists_in(str(path), INDEX_NAME):
            try:
                ix = windex.open_dir(str(path), indexname=INDEX_NAME)
                found = key_id_of(ix.schema)
            except (ModuleNotFoundError, AttributeError, ImportError):
                # the pickled schema names classes this version does not have
                raise IndexKeyMismatch("A shard of the search index was built by another version; "
                                       "rebuild it with 'xinfang search reindex'.") from None
            if found != self.key_id:
                raise IndexKeyMismatch("A shard of the search index was built with another blind-token key; "
                                       "rebuild it with 'xinfang search reindex'.")
            return ix
        if not create:
            return None
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        return windex.create_in(str(path), self.schema, indexname=INDEX_NAME)

    def writer(self, ix, **kwargs):
        """A writer of one shard, with our codec, waiting up to 30 s for the shard's lock."""
        return ix.writer(timeout=30.0, limitmb=self.limitmb, codec=codec(), **kwargs)

    def merge(self, path: Path) -> bool:
        """Merge the shard's segments where the tiered policy says so; whether it did."""
        ix = self.open(path)
        try:
            if not tiers_to_merge(internals.toc(ix).segments):
                return False
            self.writer(ix).commit(mergetype=TIERED)
            return True
        finally:
            ix.close()

    def delete(self, path: Path, uids: set[str], *, purge: bool) -> int:
        """Delete the documents of ``uids`` the shard holds (with ``purge``, rewriting every
        segment holding deleted documents); how many it held."""
        ix = self.open(path)
        if ix is None:
            return 0
        with ix.searcher() as s:
            present = [u for u in uids if s.document_number(uid=u) is not None]
            has_deleted = s.reader().has_deletions() if hasattr(s.reader(), "has_deletions") else False
        if not present and not (purge and has_deleted):
            ix.close()
            return 0
        w = self.writer(ix)
        try:
            for u in present:
                w.delete_by_term("uid", u)
        except BaseException:
            w.cancel()
            raise
        w.commit(mergetype=PURGE_DELETED if purge else None)
        ix.close()
        return len(present)

    def purge(self, path: Path) -> tuple[int, int]:
        """Rewrite the shard's segments holding deleted documents: (segments rewritten,
        documents kept)."""
        ix = self.open(path)
        try:
            dirty = [s for s in internals.toc(ix).segments if s.has_deletions()]
            if dirty:
                self.writer(ix).commit(mergetype=PURGE_DELETED)
            return len(dirty), ix.doc_count()
        finally:
            ix.close()

    def tidy(self, path: Path) -> None:
        """Remove what a writer that crashed left in the shard: temporary posting runs and
        segment files no table of contents refers to (they may hold tokens of documents
        deleted since). A shard whose write lock is held (a writer at work) is left alone."""
        ix = self.open(path)
        lock = ix.lock("WRITELOCK")
        if not lock.acquire(blocking=False):
            ix.close()
            return   # a writer is at work: its files are not strays
        try:
            storage.remove_temp_runs(path)
            internals.remove_unreferenced(ix, INDEX_NAME)
        finally:
            lock.release()
            ix.close()

    def stored(self, path: Path) -> Iterator[dict]:
        """The stored fields of every live document of the shard."""
        ix = self.open(path)
        with ix.reader() as r:
            for _docnum, stored in r.iter_docs():
                yield dict(stored)
        ix.close()

    def describe(self, path: Path) -> dict:
        """Documents, segments, deleted documents and bytes on disk of the shard."""
        ix = self.open(path)
        try:
            segments = internals.toc(ix).segments
            size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
            return {"documents": ix.doc_count(), "segments": len(segments),
                    "deleted": sum(s.deleted_count() for s in segments), "bytes": size}
        finally:
            ix.close()


def by_year(docs: Iterable) -> dict[int, list]:
    """Documents grouped by year of receipt (their shard), oldest year first."""
    out: dict[int, list] = {}
    for d in docs:
        out.setdefault(d.year, []).append(d)
    return dict(sorted(out.items()))
