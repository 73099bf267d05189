"""Keeping the index equal to the database.

* **Outbox**: every registration, correction and transition writes an ``outbox`` row in
  its own transaction. ``drain`` (after each request that wrote one, and
  ``xinfang search sync``) applies the rows to the index and deletes them, one writer at a
  time (a lock file in the index folder). A crash between the database commit and the
  index write loses nothing: the rows stay until a drain succeeds, and applying one twice
  is harmless (documents are replaced by uid). The writer lock is a lock file in the index
  folder with Whoosh, a PostgreSQL advisory lock with the PostgreSQL backend (several
  machines share that index).
* **Reindex** rebuilds a fresh index (Whoosh: a generation; PostgreSQL: a table) from the
  database and switches to it.
* **Check** compares the index's stored fields with the database and names differences.
"""
from __future__ import annotations

import contextlib
import errno
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import delete, event, func, select
from sqlalchemy.orm import Session, selectinload

from records import audit, policy
from records.cases import operations
from records.intake import operations as intake
from records.db import in_steps, utcnow
from records.errors import ConfigurationError
from records.instance import Instance
from records.models import OutboxEntry, Record

from . import analysis, factory
from .interface import IndexDocument, IndexKeyMismatch, SearchBackend
from .blind import Blinder

try:  # POSIX; the lock is a plain file lock so it also holds between processes
    import fcntl
except ImportError:  # pragma: no cover - Windows is not a deployment target
    fcntl = None

log = logging.getLogger("xinfang.search")

#: Outbox rows applied per index commit.
BATCH = 500
#: Records read and decrypted per step of a reindex.
REINDEX_BATCH = 250


# -- the service of one instance -------------------------------------------------------------
class SearchService:
    """The blinder (key in memory) and backend of one instance, built on first use. The
    composition root puts one in ``inst.search``."""

    def __init__(self, inst: Instance):
        self._inst = inst
        self._lock = threading.Lock()
        self._blinder: Blinder | None = None
        self._backend: SearchBackend | None = None
        #: Whether this process has cleaned up after crashed writers yet (once is enough: a
        #: crash later leaves orphans that the next commit of that shard removes anyway).
        self.recovered = False

    @property
    def blinder(self) -> Blinder:
        if self._blinder is None:
            with self._lock:
                if self._blinder is None:
                    self._blinder = Blinder(self._inst.purpose_key("blind-token"))
        return self._blinder

    @property
    def backend(self) -> SearchBackend:
        if self._backend is None:
            blinder = self.blinder
            with self._lock:
                if self._backend is None:
                    self._backend = factory.make_backend(self._inst, blinder.key_id)
        return self._backend

    def existing_backend(self) -> SearchBackend | None:
        """The backend when an index exists (nothing is created), else None."""
        if self._backend is not None:
            return self._backend
        return factory.existing_backend(self._inst, self.blinder.key_id)


def service(inst: Instance) -> SearchService:
    """The search service registered on ``inst`` (``inst.search``)."""
    return inst.search  # type: ignore[return-value]


# -- documents ----------------------------------------------------------------------------------
def indexable(record: Record) -> bool:
    """A destroyed record (data key shredded, or content gone) has nothing to index."""
    return record.key is not None and bool(record.document_sealed)


def _received(record: Record) -> int:
    return int(record.received_at.timestamp())


def expected_stored(record: Record) -> dict:
    """The stored fields the index should hold for ``record`` (no decryption needed)."""
    return _meta(record).stored()


def _meta(record: Record) -> IndexDocument:
    return IndexDocument(
        uid=record.uid, record_id=record.id, serial=record.serial, year=record.year, status=record.status,
        channel=record.channel, region=record.region_code, category=record.category, office=record.office.code,
        received=_received(record), doc_version=record.doc_version,
        allowed=frozenset(policy.record_principals(record)), denied=frozenset(policy.record_denied(record)),
    )


def read_for_index(session: Session, record: Record) -> tuple[IndexDocument, str] | None:
    """The record's metadata and decrypted text (in memory only); None when not indexable.
    Everything needed is read here, so the caller can end its transaction before analysing."""
    if not indexable(record):
        return None
    doc = operations.document(session, record)
    text = analysis.FIELD_BREAK.join(doc.get(k) or "" for k in ("subject", "body", "notes"))
    attached = intake.text_for_index(session, record)  # the attachments' extracted text
    return _meta(record), (text + analysis.ATTACHMENTS_BREAK + attached) if attached else text


def blind_document(meta: IndexDocument, text: str, blinder: Blinder) -> IndexDocument:
    """Analyse and blind the text into ``meta`` (outside any database transaction)."""
    analysed = analysis.analyse(text)
    meta.text = blinder.text(analysed.tokens)
    meta.chars = blinder.chars(sorted(analysed.chars))
    return meta


def document_for(session: Session, record: Record, blinder: Blinder) -> IndexDocument | None:
    """Decrypt, analyse and blind one record; None when it is not indexable."""
    got = read_for_index(session, record)
    return blind_document(*got, blinder) if got is not None else None


def _load(session: Session, where) -> list[Record]:
    return list(session.execute(
        select(Record).where(where).options(selectinload(Record.key), selectinload(Record.excluded_users))
    ).scalars())


# -- the one writer ---------------------------------------------------------------------------------
def _lock_path(inst: Instance):
    inst.settings.index_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return inst.settings.index_dir / ".writer.lock"


def _rebuild_marker(inst: Instance):
    return inst.settings.index_dir / ".rebuilding"


def _uses_files(inst: Instance) -> bool:
    """Whether the index lives in the instance folder (Whoosh), as opposed to the database."""
    return factory.kind(inst) == factory.WHOOSH


@contextlib.contextmanager
def writer_lock(inst: Instance, wait: float | None = None) -> Iterator[bool]:
    """Hold the index's writer lock (between threads and processes; with the PostgreSQL
    backend between machines too: an advisory lock of the database); yields False when it
    could not be had within ``wait`` seconds (None: wait as long as it takes)."""
    if not _uses_files(inst):
        from .postgres import writer_lock as pg_writer_lock

        with pg_writer_lock(inst.db.engine, wait) as got:
            yield got
        return
    fd = os.open(_lock_path(inst), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        got = _acquire(fd, wait)
        try:
            yield got
        finally:
            if got and fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _acquire(fd: int, wait: float | None) -> bool:
    if fcntl is None:  # pragma: no cover
        return True
    if wait is None:
        fcntl.flock(fd, fcntl.LOCK_EX)
        return True
    deadline = time.monotonic() + wait
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.005)


# -- draining the outbox ----------------------------------------------------------------------------
@dataclass
class DrainReport:
    rows: int = 0
    indexed: int = 0
    deleted: int = 0
    #: True when another writer held the lock (a rebuild, another drain) and we left the
    #: rows to it; they stay in the outbox.
    skipped: bool = False


def pending(inst: Instance) -> int:
    with inst.session(read_only=True) as s:
        return s.execute(select(func.count()).select_from(OutboxEntry)).scalar_one()


#: The oldest change waiting for the index longer than this (seconds): indexing is behind
#: (no indexer running where the app processes leave indexing to it, or a long rebuild).
LAG_LIMIT = 300


def lag(inst: Instance) -> float:
    """Seconds the oldest change in the outbox has waited for the index (0 when none waits):
    the first row in the outbox's order, one probe of its key however many wait."""
    with inst.session(read_only=True) as s:
        oldest = s.execute(select(OutboxEntry.created_at).order_by(OutboxEntry.id).limit(1)).scalar_one_or_none()
    return 0.0 if oldest is None else max(0.0, (utcnow() - oldest).total_seconds())


def behind(inst: Instance) -> bool:
    """Whether indexing is behind: a change has waited longer than ``LAG_LIMIT``."""
    return lag(inst) >= LAG_LIMIT


def drain(inst: Instance, *, wait: float | None = None, batch: int = BATCH, merge: bool = True) -> DrainReport:
    """Apply the outbox to the index until it is empty. With ``wait`` (seconds) give up
    politely when another writer holds the lock longer; a rebuild in progress is not
    waited for at all (it drains the outbox itself when it finishes). ``merge=False``
    leaves segment merging to ``maintain`` (the fast path of a request)."""
    report = DrainReport()
    if wait is not None and _uses_files(inst) and _rebuild_marker(inst).exists():
        wait = 0.0
    with writer_lock(inst, wait) as locked:
        if not locked:
            report.skipped = True
            return report
        if _uses_files(inst):
            with contextlib.suppress(FileNotFoundError):
                _rebuild_marker(inst).unlink()  # we hold the lock, so no rebuild is running
        svc = service(inst)
        if not svc.recovered or merge:
            svc.backend.recover()
            svc.recovered = True
        while _drain_batch(inst, svc, batch, report, merge):
            pass
    return report


def _drain_batch(inst: Instance, svc: SearchService, batch: int, report: DrainReport, merge: bool) -> bool:
    # 1. read the rows and decrypt the records in a read-only transaction (no write lock:
    #    registrations go on meanwhile); the index is never written inside a transaction
    s = inst.session(read_only=True)
    try:
        rows = s.execute(select(OutboxEntry.id, OutboxEntry.record_uid, OutboxEntry.op)
                         .order_by(OutboxEntry.id).limit(batch)).all()
        if not rows:
            return False
        last_op: dict[str, str] = {}
        for _id, uid, op in rows:
            last_op[uid] = op
        records = {r.uid: r for r in _load(s, Record.uid.in_(list(last_op)))}
        prepared, gone = [], []
        for uid, op in last_op.items():
            record = records.get(uid)
            got = read_for_index(s, record) if (op != "delete" and record is not None) else None
            (prepared.append(got) if got is not None else gone.append(uid))
        s.rollback()
    finally:
        s.close()
    docs = [blind_document(meta, text, svc.blinder) for meta, text in prepared]
    del prepared
    # 2. write the index (idempotent: documents are replaced by uid)
    if docs:
        svc.backend.index(docs, merge=merge)
    if gone:
        svc.backend.delete(gone, purge=True)
    # 3. forget the applied rows (a crash before this only means they are applied again)
    with inst.unit_of_work() as s:
        s.execute(delete(OutboxEntry).where(OutboxEntry.id.in_([r[0] for r in rows])))
    report.rows += len(rows)
    report.indexed += len(docs)
    report.deleted += len(gone)
    return len(rows) == batch


OUTBOX_FLAG = "xinfang.outbox_written"


def _flag_new_rows(session: Session, _flush_context, _instances) -> None:
    if any(isinstance(obj, OutboxEntry) for obj in session.new):
        session.info[OUTBOX_FLAG] = True


def _flag_inserts(state) -> None:
    stmt = state.statement
    if state.is_insert and getattr(getattr(stmt, "table", None), "name", None) == OutboxEntry.__tablename__:
        state.session.info[OUTBOX_FLAG] = True


def _forget_flag(session: Session) -> None:
    session.info.pop(OUTBOX_FLAG, None)


def watch_outbox(session: Session) -> None:
    """Note on ``session`` whether its transaction wrote outbox rows (ORM or core inserts);
    a rollback forgets it."""
    event.listen(session, "before_flush", _flag_new_rows)
    event.listen(session, "do_orm_execute", _flag_inserts)
    event.listen(session, "after_rollback", _forget_flag)


def drain_after_commit(inst: Instance, session: Session) -> DrainReport | None:
    """Drain when the committed transaction of ``session`` wrote outbox rows (without
    merging segments: call ``maintain_quietly`` once the response is on its way)."""
    if not session.info.pop(OUTBOX_FLAG, False):
        return None
    return drain_quietly(inst, merge=False)


def drain_quietly(inst: Instance, *, wait: float = 2.0, merge: bool = True) -> DrainReport | None:
    """Drain after a request: never raises (the outbox keeps the work for the next drain or
    ``xinfang search sync``); failures are logged without any letter content."""
    try:
        return drain(inst, wait=wait, merge=merge)
    except Exception as exc:  # noqa: BLE001 - the request has committed; indexing can wait
        log.error("search: draining the outbox failed (%s); the rows stay for 'xinfang search sync'",
                  type(exc).__name__)
        return None


def maintain_quietly(inst: Instance, *, wait: float = 0.0) -> None:
    """Merge index segments that are due (after a response was sent); skipped when another
    writer is busy, never raises."""
    try:
        with writer_lock(inst, wait) as locked:
            if locked:
                service(inst).backend.maintain()
    except Exception as exc:  # noqa: BLE001
        log.error("search: merging index segments failed (%s)", type(exc).__name__)


def follow(inst: Instance, *, interval: float = 1.0, stop: Callable[[], bool] = lambda: False,
           on_drain: Callable[[DrainReport], None] | None = None) -> None:
    """Drain repeatedly (``xinfang search sync --follow``) until ``stop()`` is true."""
    while not stop():
        report = drain(inst, wait=interval)
        if on_drain is not None and report.rows:
            on_drain(report)
        time.sleep(interval)


# -- reindex ------------------------------------------------------------------------------------------
@dataclass
class ReindexReport:
    records: int = 0
    indexed: int = 0
    skipped: int = 0
    seconds: float = 0.0
    outbox_after: DrainReport | None = None


def reindex(inst: Instance, *, progress: Callable[[int], None] | None = None,
            on_total: Callable[[int], None] | None = None, procs: int | None = None,
            batch: int = REINDEX_BATCH) -> ReindexReport:
    """Rebuild the whole index from the database into a fresh generation, then switch to it.
    ``progress(n)`` is called after each step with the number of records read."""
    started = time.monotonic()
    svc = service(inst)
    report = ReindexReport()
    marker = _rebuild_marker(inst) if _uses_files(inst) else None
    with writer_lock(inst, None):
        if marker is not None:
            marker.write_text(str(os.getpid()))
        try:
            with inst.session(read_only=True) as s:
                applied = list(s.execute(select(OutboxEntry.id)).scalars())
                total = s.execute(select(func.count()).select_from(Record)).scalar_one()
                s.rollback()
            if on_total is not None:
                on_total(total)
            procs = procs or auto_procs(total)
            backend = svc.backend
            if procs != getattr(backend, "procs", procs):   # the processes that analyse and blind
                backend = factory.make_backend(inst, backend.key_id, procs=procs)
            loader = backend.bulk_loader()
            with inst.session(read_only=True) as s:
                years = list(s.execute(select(Record.year).distinct().order_by(Record.year)).scalars())
                s.rollback()
            try:
                for year in years:   # one shard at a time: one writer open, bounded memory
                    last_id = 0
                    while True:
                        s = inst.session(read_only=True)
                        try:
                            records = _load_batch(s, last_id, batch, year)
                            if not records:
                                break
                            prepared = [read_for_index(s, record) for record in records]
                            last_id, count = records[-1].id, len(records)
                            s.rollback()
                        finally:
                            s.close()
                        for got in prepared:
                            if got is None:
                                report.skipped += 1
                            else:
                                loader.add_text(*got, svc.blinder)
                                report.indexed += 1
                        del prepared
                        report.records += count
                        if progress is not None:
                            progress(count)
                loader.commit()
            except BaseException:
                loader.cancel()
                raise
            if backend is not svc.backend and hasattr(svc.backend, "_changed"):
                svc.backend._changed()  # noqa: SLF001 - same folder, switched generation
            # rows that were there before the rebuild read the database are in it now
            with inst.unit_of_work() as s:
                for step in in_steps(applied):
                    s.execute(delete(OutboxEntry).where(OutboxEntry.id.in_(step)))
        finally:
            if marker is not None:
                with contextlib.suppress(FileNotFoundError):
                    marker.unlink()
    svc.blinder.forget()
    report.outbox_after = drain(inst)
    report.seconds = time.monotonic() - started
    return report


def auto_procs(total: int) -> int:
    """Two indexing processes for a large rebuild on a machine with two cores or more."""
    return 2 if total >= 5000 and (os.cpu_count() or 1) >= 2 else 1


def purge(inst: Instance, years: list[int] | None = None):
    """Rewrite the storage holding deleted documents, under the lock: Whoosh's segments (of
    ``years``, or all), or the PostgreSQL table (``VACUUM FULL``)."""
    with writer_lock(inst, None):
        return service(inst).backend.purge(years)


def purge_deleted(inst: Instance, years: list[int]) -> int:
    """After a destruction: apply the outbox's pending deletes to the index, purge the
    storage of ``years`` so no deleted document survives (Whoosh: merge the year's shards;
    PostgreSQL: ``VACUUM FULL`` of the partitions the deleted letters were in and left), then
    clear those outbox rows. Nothing to purge when no index was ever built. Returns how many
    documents were removed."""
    with inst.unit_of_work() as s:
        rows = s.execute(select(OutboxEntry.id, OutboxEntry.record_uid).where(OutboxEntry.op == "delete")).all()
    uids = sorted({r.record_uid for r in rows})
    removed = 0
    backend = service(inst).existing_backend()
    if backend is not None:
        with writer_lock(inst):  # the one writer: never beside a drain or a reindex
            if uids:
                removed = backend.delete(uids, purge=False)
            backend.purge(years, deleted_only=True)
    if rows:
        ids = [r.id for r in rows]
        with inst.unit_of_work() as s:
            for step in in_steps(ids):
                s.execute(delete(OutboxEntry).where(OutboxEntry.id.in_(step)))
    return removed


def _load_batch(session: Session, last_id: int, size: int, year: int | None = None) -> list[Record]:
    cond = [Record.id > last_id] + ([Record.year == year] if year is not None else [])
    return list(session.execute(
        select(Record).where(*cond).order_by(Record.id).limit(size)
        .options(selectinload(Record.key), selectinload(Record.excluded_users))
    ).scalars())


# -- check ----------------------------------------------------------------------------------------------
@dataclass
class CheckReport:
    records: int = 0
    expected: int = 0
    indexed: int = 0
    pending: int = 0
    #: serials of records the index lacks
    missing: list[str] = field(default_factory=list)
    #: serials (or uids) of documents the database no longer has (or has destroyed)
    extra: list[str] = field(default_factory=list)
    #: serial -> names of the fields that differ
    stale: dict[str, list[str]] = field(default_factory=dict)
    duplicates: list[str] = field(default_factory=list)
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.stale or self.duplicates or self.problem)


def check(inst: Instance) -> CheckReport:
    """Compare every live index document with the database (stored fields: ids, metadata,
    document version, principals and refusals)."""
    report = CheckReport()
    svc = service(inst)
    try:
        in_index: dict[str, dict] = {}
        for stored in svc.backend.stored_documents():
            uid = stored.get("uid")
            if uid in in_index:
                report.duplicates.append(stored.get("serial") or uid)
            in_index[uid] = stored
    except (IndexKeyMismatch, ConfigurationError) as exc:   # rebuild, or another Whoosh release
        report.problem = str(exc)
        return report
    report.indexed = len(in_index)
    seen = set()
    last_id = 0
    while True:
        with inst.session(read_only=True) as s:
            records = _load_batch(s, last_id, 1000)
            if not records:
                break
            for record in records:
                report.records += 1
                stored = in_index.get(record.uid)
                if not indexable(record):
                    continue
                report.expected += 1
                seen.add(record.uid)
                if stored is None:
                    report.missing.append(record.serial)
                    continue
                want = expected_stored(record)
                diff = sorted(k for k, v in want.items() if stored.get(k) != v)
                if diff:
                    report.stale[record.serial] = diff
            last_id = records[-1].id
            s.rollback()
    report.extra = sorted(v.get("serial") or k for k, v in in_index.items() if k not in seen)
    report.pending = pending(inst)
    return report


def audit_run(inst: Instance, action: str, detail: dict) -> None:
    """One audit entry for a maintenance run (reindex, sync) by the command line."""
    with inst.unit_of_work() as s:
        audit.record(s, action, actor_name="system", detail=detail)
