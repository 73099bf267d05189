"""Bulk loading: a rebuild fills a new generation, then it replaces the one in use.

Give the loader the documents grouped by year: one writer is open at a time, so memory stays
bounded whatever the number of years. With ``procs`` > 1 Whoosh's multi-process writer
indexes in parallel (its job files hold blind tokens, or text sealed under the in-memory
hand-off key, never plaintext) and keeps the sub-writers' segments (``multisegment``).
"""
from __future__ import annotations

import contextlib
import multiprocessing
import shutil

from whoosh.writing import NO_MERGE

from ..interface import BulkLoader, IndexDocument
from . import handoff, segments, storage
from .codec import codec
from .schema import fields_of
from .shards import shard_name


def _forks() -> bool:
    """Whoosh's sub-writers are started by forking (so they inherit the in-memory keys)."""
    return multiprocessing.get_context().get_start_method() == "fork"


class WhooshBulkLoader(BulkLoader):
    """Fills a new generation one shard at a time, then switches the backend to it."""

    #: Documents per sub-writer job file when several processes build an index.
    BULK_BATCH = 256

    def __init__(self, backend):
        self.backend = backend
        self.gen = storage.start_rebuild(backend.root, backend.key_id)
        self.year: int | None = None
        self.writer = None
        self.ix = None
        #: Documents given to the open writer; it is committed (a segment per process) at
        #: ``segments.SEGMENT_DOCS`` per process, so its posting pool never spills to disk.
        self.in_writer = 0
        self._handoff = False

    def _finish_shard(self) -> None:
        if self.writer is not None:
            self.writer.commit(mergetype=NO_MERGE)   # Whoosh would merge the small segments back
            self.ix.close()
        self.writer = self.ix = self.year = None
        self.in_writer = 0

    def _writer_for(self, year: int):
        procs = self.backend.procs
        if year == self.year and self.in_writer >= segments.SEGMENT_DOCS * procs:
            self._finish_shard()
        self.in_writer += 1
        if year != self.year:
            self._finish_shard()   # a year seen again later simply adds a segment
            self.in_writer = 1
            self.ix = self.backend.shards.open(self.gen / shard_name(year), create=True)
            limitmb = self.backend.shards.limitmb
            if procs > 1:
                self.writer = self.ix.writer(procs=procs, multisegment=True, batchsize=self.BULK_BATCH,
                                             limitmb=limitmb, codec=codec())
            else:
                self.writer = self.ix.writer(limitmb=limitmb, codec=codec())
            self.year = year
        return self.writer

    def add(self, doc: IndexDocument) -> None:
        self._writer_for(doc.year).add_document(**fields_of(doc))

    def add_text(self, meta: IndexDocument, text: str, blinder) -> None:
        """With several processes, the analysis and blinding happen in the sub-writers: the
        text travels to them encrypted under a hand-off key that only exists in memory
        (inherited when they fork). Otherwise as ``add``."""
        if self.backend.procs <= 1 or not _forks():
            return super().add_text(meta, text, blinder)
        key_id = self.backend.key_id
        if not handoff.active(key_id):
            from records.crypto import new_key

            handoff.start(key_id, new_key(), blinder)
            self._handoff = True
        fields_ = fields_of(meta)
        fields_["text"] = fields_["chars"] = handoff.seal(key_id, text)
        self._writer_for(meta.year).add_document(**fields_)

    def _forget_handoff(self) -> None:
        if self._handoff:
            handoff.forget(self.backend.key_id)
            self._handoff = False

    def commit(self) -> None:
        try:
            self._finish_shard()
        finally:
            self._forget_handoff()
        self.backend.switch_to(storage.finish_rebuild(self.backend.root, self.gen))

    def cancel(self) -> None:
        if self.writer is not None:
            with contextlib.suppress(Exception):   # best effort while throwing the rebuild away
                self.writer.cancel()
        self._forget_handoff()
        self.writer = self.ix = self.year = None
        shutil.rmtree(self.gen, ignore_errors=True)
