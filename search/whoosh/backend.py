"""The embedded search backend: the class implementing ``search.interface.SearchBackend``
over Whoosh indexes on disk, one shard per year (``shards``) in generations (``storage``).

It composes the other modules of the package: the schema and codec of the blind fields,
the segments' merge policies and kept readers, the query execution on arrays, the bulk
loader of rebuilds. Building it checks that the installed Whoosh-Reloaded is the release
whose internals ``internals`` mirrors.
"""
from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from whoosh.searching import Searcher
from whoosh.writing import NO_MERGE

from ..interface import FACETS, Access, BulkLoader, Hit, HitPage, IndexDocument, Node, PurgeReport, SearchBackend
from . import execution, internals, storage
from .bulk import WhooshBulkLoader
from .schema import fields_of, make_schema
from .segments import TIERED, HeldTerms, Searchers
from .shards import Shards, by_year, shard_name, shard_paths, shard_tocs


class WhooshBackend(SearchBackend):
    def __init__(self, root: Path, key_id: str, *, procs: int = 1, limitmb: int = 256,
                 cache_bytes: int = execution.DEFAULT_BUDGET):
        internals.check_version()
        self.root = Path(root)
        self.key_id = key_id
        self.procs = max(1, int(procs))
        self.limitmb = limitmb
        self._schema = make_schema(key_id)
        self.shards = Shards(key_id, self._schema, limitmb=limitmb)
        self._lock = threading.Lock()
        #: The generation whose meta.json was last found to match this key.
        self._checked: str | None = None
        #: Bumped after every write in this process, so cached searchers refresh at once.
        self._epoch = 0
        #: Terms readers of each shard's segments, kept between writes.
        self._held = HeldTerms(execution.holders)
        #: Each thread's searcher, its segment readers kept between searches.
        self._searchers = Searchers(self.root, self.shards, shard_paths)
        #: Arrays of segments kept between queries (see ``execution``).
        self._cache = execution.SegmentCache(cache_bytes)

    # -- layout ------------------------------------------------------------------------
    def _generation(self) -> Path:
        """The generation folder in use, created (empty) on first use."""
        name = storage.current_name(self.root)
        if name is None:
            with self._lock:
                name = storage.current_name(self.root) or storage.create_first(self.root, self.key_id)
        gen = self.root / name
        if self._checked != name:
            storage.check_meta(gen, self.key_id)
            self._checked = name
        return gen

    def _shards(self, gen: Path | None = None) -> dict[int, Path]:
        return shard_paths(gen or self._generation())

    def _changed(self) -> None:
        self._epoch += 1

    # -- writing -----------------------------------------------------------------------
    def index(self, docs: Iterable[IndexDocument], *, merge: bool = True) -> int:
        """Add or replace documents. ``merge=False`` commits without merging segments (the
        fast path after a request; ``maintain`` merges later)."""
        grouped = by_year(docs)
        if not grouped:
            return 0
        gen = self._generation()
        written = 0
        for year, items in grouped.items():
            ix = self.shards.open(gen / shard_name(year), create=True)
            w = self.shards.writer(ix)
            try:
                items = list({d.uid: d for d in items}.values())   # the last of a uid given twice
                self._held.delete(year, w, [d.uid for d in items])
                for d in items:
                    w.add_document(**fields_of(d))
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
        merged = sum(1 for path in self._shards().values() if self.shards.merge(path))
        if merged:
            self._changed()
        return merged

    def delete(self, uids: Iterable[str], *, purge: bool = True) -> int:
        uids = set(uids)
        if not uids:
            return 0
        gen = self._generation()
        found = 0
        for path in self._shards(gen).values():
            found += self.shards.delete(path, uids, purge=purge)
        self._tidy(gen)
        self._changed()
        return found

    def purge(self, years: Iterable[int] | None = None, *, deleted_only: bool = False) -> PurgeReport:
        gen = self._generation()   # (a year's shard holds its deleted documents: deleted_only changes nothing)
        wanted = None if years is None else {int(y) for y in years}
        report = PurgeReport(shards=[], segments_rewritten=0, documents_kept=0)
        for year, path in self._shards(gen).items():
            if wanted is not None and year not in wanted:
                continue
            rewritten, kept = self.shards.purge(path)
            if rewritten:
                report.shards.append(path.name)
                report.segments_rewritten += rewritten
            report.documents_kept += kept
        self._tidy(gen)
        self._changed()
        return report

    def recover(self) -> None:
        """Remove what a writer that crashed left behind: its temporary posting runs and the
        segment files no table of contents refers to (they may hold tokens of documents
        deleted since), a rebuild that never finished, an old generation not yet removed.
        Call it under the writer lock; a shard whose own write lock is held (a writer at
        work in another process) is left alone."""
        gen = self._generation()
        self._tidy(gen)
        storage.remove_others(self.root, gen)

    def _tidy(self, gen: Path) -> None:
        for path in self._shards(gen).values():
            self.shards.tidy(path)

    # -- reading -----------------------------------------------------------------------
    def _state(self) -> tuple:
        gen = self._generation()
        tocs = shard_tocs(gen)
        return (gen.name, tuple((y, toc) for y, (_p, toc) in tocs.items()), self._epoch)

    def _searcher(self) -> Searcher | None:
        """This thread's searcher over every shard, brought up to date when the index changed.
        Readers of segments that did not change are kept (opening one reads its term index),
        so a search after a registration opens only the new segment."""
        return self._searchers.get(self._state(), self._state)

    def _close_searcher(self) -> None:
        """Close this thread's cached searcher (its open files)."""
        self._searchers.close()

    def close(self) -> None:
        """Close this thread's cached searcher and the terms readers kept for writing."""
        self._close_searcher()
        self._held.close()

    def warm(self) -> None:
        """Build every segment's lengths, sort column, facet codes and live mask (shared by
        the threads of this process); the searcher opened for it is this thread's."""
        s = self._searcher()
        if s is None:
            return
        for leaf in execution.leaves(s, self._cache):
            leaf.lengths("text")
            leaf.lengths("chars")
            leaf.column("received")
            leaf.live()
            for f in FACETS:
                leaf.codes(f)
        self._close_searcher()

    # -- queries, run on arrays (``execution``) ---------------------------------------------
    def _run(self, searcher: Searcher, match, access: Access, exclude_uid: str | None = None):
        leaves = execution.leaves(searcher, self._cache)
        stats = execution.Stats(searcher, leaves)
        return execution.run(leaves, lambda leaf: match(leaf, stats),
                             execution.access_mask(access, self._cache, exclude_uid))

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
        matched = self._run(s, lambda leaf, stats: execution.evaluate(query, leaf, stats), access)
        if sort in ("newest", "oldest"):
            order = matched.top(page * per_page, execution.sort_keys(matched, "received"),
                                descending=sort == "newest")
        else:
            order = matched.top(page * per_page)
        hits = [self._hit(s, matched, i) for i in order[(page - 1) * per_page:].tolist()]
        return HitPage(total=len(matched.docnums), hits=hits, facets=execution.facet_counts(matched, facets))

    @staticmethod
    def _hit(searcher: Searcher, matched: execution.Matched, i: int, **extra) -> Hit:
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
        matched = self._run(s, lambda leaf, stats: execution.weighted(weighted, leaf, stats), access, exclude_uid)
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
        for path in self._shards().values():
            yield from self.shards.stored(path)

    def describe(self) -> dict:
        gen = self._generation()
        shards = {str(year): self.shards.describe(path) for year, path in self._shards(gen).items()}
        return {"backend": "whoosh", "generation": gen.name, "key_id": self.key_id, "shards": shards,
                "bytes": sum(s["bytes"] for s in shards.values())}

    # -- rebuilding --------------------------------------------------------------------
    def bulk_loader(self) -> BulkLoader:
        return WhooshBulkLoader(self)

    def switch_to(self, new_gen: Path) -> None:
        """Make ``new_gen`` (a finished rebuild) the generation in use; the old one is removed."""
        old = storage.switch_to(self.root, new_gen)
        self._changed()
        self.close()
        storage.remove_generation(old)
