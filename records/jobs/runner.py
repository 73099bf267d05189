"""Running background jobs: submit, claim, run with progress and checkpoints, retry, resume.

* ``submit`` queues a job in the caller's unit of work (it commits with the request that
  asked for it). With a ``dedupe_key``, a second submit while the first is still queued or
  running returns the first.
* ``run_pending`` claims queued jobs one at a time (an atomic conditional update, so two
  runners never take the same job, on SQLite as on PostgreSQL) and runs each with its
  handler from ``inst.jobs``. ``run_job`` runs one job by id.
* While a handler runs, a heartbeat thread touches ``heartbeat_at`` every
  ``HEARTBEAT_EVERY`` seconds. A job left ``running`` with a heartbeat older than
  ``STALE_AFTER`` (its process was killed) is claimed again and resumes from its last
  checkpoint (``ctx.state``).
* ``queue_daily`` queues each kind registered as ``daily`` once per office day (dedupe key
  ``daily:<YYYY-MM-DD>``, the day in the payload as ``today``): ``xinfang jobs run`` calls it,
  so the daily sweep needs no cron line of its own.
* A handler that raises is retried (queued again) until ``max_attempts``, then ``failed``.
  The error kept is the exception's type and, for the system's own typed errors, their
  message: never a letter's text.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from records.db import utcnow
from records.errors import Conflict, NotFound, XinfangError
from records.instance import Instance, instance_of

from .models import ACTIVE, Job

log = logging.getLogger("xinfang.jobs")

#: Seconds between heartbeats of a running job.
HEARTBEAT_EVERY = 10.0
#: A running job whose heartbeat is older than this (seconds) belongs to a dead process.
#: Generous: on SQLite the heartbeat waits while the handler holds the one write lock (a
#: destruction's preparation of a large batch is one transaction), and a live job must
#: never be taken for dead and run twice.
STALE_AFTER = 600.0
#: Seconds between two writes of a job's progress.
PROGRESS_EVERY = 0.5

#: ``on_progress(job_id, kind, done, total, note)``: the CLI's progress bar.
ProgressListener = Callable[[int, str, int, "int | None", str], None]


def submit(session: Session, kind: str, *, payload: dict, record=None, by=None,
           dedupe_key: str | None = None) -> Job:
    """Queue a job of ``kind`` (flushed; the caller's unit of work commits). ``payload`` is
    clear metadata only (ids, names), never a letter's text."""
    if not isinstance(payload, dict):
        raise TypeError("A job's payload is a dict of clear metadata.")
    if dedupe_key is not None:
        existing = _active(session, kind, dedupe_key)
        if existing is not None:
            return existing
    job = Job(kind=kind, status="queued", payload=dict(payload), state={}, attempts=0,
              record_id=getattr(record, "id", record), created_by_id=getattr(by, "id", by),
              dedupe_key=dedupe_key, progress_done=0, progress_note="", created_at=utcnow())
    spec = _instance_registry(session).get(kind)
    job.max_attempts = spec.max_attempts if spec is not None else 3
    try:
        with session.begin_nested():
            session.add(job)
    except IntegrityError:  # another transaction queued the same (kind, dedupe key) first
        existing = _active(session, kind, dedupe_key) if dedupe_key else None
        if existing is None:
            raise
        return existing
    return job


def queue_daily(inst: Instance, *, today: dt.date | None = None, kinds: Iterable[str] | None = None) -> list[int]:
    """Queue every ``daily`` kind (of ``kinds``, default all) not yet queued for the office's
    ``today`` (in any status: a day's job that ran is not queued again). Returns the ids of the
    jobs queued now."""
    day = today or dt.datetime.now(inst.settings.tz).date()
    key = f"daily:{day.isoformat()}"
    queued = []
    for kind in inst.jobs.daily():
        if kinds is not None and kind not in kinds:
            continue
        with inst.unit_of_work() as s:
            if s.execute(select(Job.id).where(Job.kind == kind, Job.dedupe_key == key).limit(1)).first() is not None:
                continue
            job = submit(s, kind, payload={"today": day.isoformat()}, dedupe_key=key)
            s.flush()
            queued.append(job.id)
    return queued


def _active(session: Session, kind: str, dedupe_key: str) -> Job | None:
    return session.execute(select(Job).where(Job.kind == kind, Job.dedupe_key == dedupe_key,
                                             Job.status.in_(ACTIVE)).order_by(Job.id)).scalars().first()


def _instance_registry(session: Session):
    return instance_of(session).jobs


def get(session: Session, job_id) -> Job:
    try:
        job = session.get(Job, int(job_id))
    except (TypeError, ValueError):
        job = None
    if job is None:
        raise NotFound("No such job.")
    return job


@dataclass
class Context:
    """What a handler sees of its job. ``progress`` is written by the job's heartbeat thread
    within a moment, in a short transaction of its own (never blocking the handler, which
    may hold a write transaction: SQLite has one writer), so the web shows it while the job
    runs. ``checkpoint`` is written at once: call it between the handler's transactions."""

    inst: Instance
    job_id: int
    kind: str
    payload: dict
    record_id: int | None
    state: dict
    attempt: int
    created_by_id: int | None = None
    listener: ProgressListener | None = field(default=None, repr=False)
    _pending: dict = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _wake: threading.Event = field(default_factory=threading.Event, repr=False)

    def progress(self, done: int, total: int | None = None, note: str = "") -> None:
        note = (note or "")[:200]
        with self._lock:
            self._pending = {"progress_done": int(done), "progress_total": None if total is None else int(total),
                             "progress_note": note}
        self._wake.set()
        if self.listener is not None:
            self.listener(self.job_id, self.kind, int(done), total, note)

    def take_progress(self) -> dict:
        with self._lock:
            pending, self._pending = self._pending, {}
        return pending

    def checkpoint(self, state: dict) -> None:
        """Keep ``state`` (clear metadata): a resumed attempt starts with it in ``ctx.state``."""
        self.state = dict(state)
        with self.inst.db.engine.begin() as conn:
            conn.execute(update(Job).where(Job.id == self.job_id).values(heartbeat_at=utcnow(), state=self.state))


def _error_text(exc: BaseException) -> str:
    """What is kept of a failure: the type, and the message of the system's own typed errors
    (written by this code, never containing a letter's text)."""
    if isinstance(exc, XinfangError):
        return f"{type(exc).__name__}: {exc.message}"[:1000]
    return type(exc).__name__


def _claimable(now: dt.datetime):
    stale = now - dt.timedelta(seconds=STALE_AFTER)
    return or_(Job.status == "queued",
               and_(Job.status == "running", or_(Job.heartbeat_at.is_(None), Job.heartbeat_at < stale)))


def _claim(inst: Instance, job_id: int) -> bool:
    """Take the job if it is queued or abandoned; atomic (one runner wins)."""
    now = utcnow()
    with inst.db.engine.begin() as conn:
        result = conn.execute(update(Job).where(Job.id == job_id, _claimable(now))
                              .values(status="running", attempts=Job.attempts + 1, heartbeat_at=now,
                                      started_at=now))
        return result.rowcount == 1


def _candidates(inst: Instance, kinds: Iterable[str], skip: set[int]) -> list[int]:
    kinds = list(kinds)
    if not kinds:
        return []
    with inst.unit_of_work() as s:
        q = (select(Job.id).where(Job.kind.in_(kinds), _claimable(utcnow()))
             .order_by(Job.id).limit(len(skip) + 20))
        return [i for i in s.execute(q).scalars() if i not in skip]


class _Heartbeat:
    """While a handler runs: touch ``heartbeat_at`` every ``HEARTBEAT_EVERY`` seconds and
    write the latest progress soon after it is reported (at most every ``PROGRESS_EVERY``)."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"job-{ctx.job_id}-heartbeat", daemon=True)

    def _beat(self) -> None:
        ctx = self.ctx
        while not self._stop.is_set():
            ctx._wake.wait(HEARTBEAT_EVERY)
            ctx._wake.clear()
            if self._stop.is_set():
                break
            values = ctx.take_progress()
            try:
                with ctx.inst.db.engine.begin() as conn:
                    conn.execute(update(Job).where(Job.id == ctx.job_id, Job.status == "running")
                                 .values(heartbeat_at=utcnow(), **values))
            except Exception as exc:  # noqa: BLE001 - a missed beat is retried at the next one
                with ctx._lock:
                    ctx._pending = {**values, **ctx._pending}
                log.warning("jobs: heartbeat of job %s failed (%s)", ctx.job_id, type(exc).__name__)
            self._stop.wait(PROGRESS_EVERY)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self.ctx._wake.set()
        self._thread.join()


def _finish(inst: Instance, job_id: int, **values) -> None:
    with inst.db.engine.begin() as conn:
        conn.execute(update(Job).where(Job.id == job_id).values(heartbeat_at=utcnow(), **values))


def _execute(inst: Instance, job_id: int, listener: ProgressListener | None) -> str:
    """Run a claimed job to its next status (done, queued for a retry, or failed)."""
    with inst.unit_of_work() as s:
        job = s.get(Job, job_id)
        ctx = Context(inst, job.id, job.kind, dict(job.payload or {}), job.record_id, dict(job.state or {}),
                      job.attempts, job.created_by_id, listener)
        max_attempts = job.max_attempts
    spec = inst.jobs.get(ctx.kind)
    if spec is None:
        _finish(inst, job_id, status="failed", finished_at=utcnow(),
                error=f"No handler of {ctx.kind!r} jobs is registered in this process.")
        return "failed"
    if ctx.attempt > max_attempts:
        _finish(inst, job_id, status="failed", finished_at=utcnow(),
                error=f"Gave up after {max_attempts} attempts (the last one stopped without finishing).")
        return "failed"
    try:
        with _Heartbeat(ctx):
            spec.handler(inst, ctx)
    except Exception as exc:  # noqa: BLE001 - recorded on the job; retried or failed
        # a refusal (state, access, input: the system's own errors below 500) will not change by retrying
        permanent = isinstance(exc, XinfangError) and exc.status < 500
        status = "failed" if permanent or ctx.attempt >= max_attempts else "queued"
        log.warning("jobs: %s job %s attempt %s failed (%s)", ctx.kind, job_id, ctx.attempt, type(exc).__name__)
        _finish(inst, job_id, status=status, error=_error_text(exc),
                finished_at=utcnow() if status == "failed" else None, **ctx.take_progress())
        return status
    _finish(inst, job_id, status="done", finished_at=utcnow(), error=None, **ctx.take_progress())
    return "done"


def run_job(inst: Instance, job_id: int, *, on_progress: ProgressListener | None = None) -> str:
    """Run one job now (queued, or abandoned by a dead process). Returns its new status;
    Conflict when it is running elsewhere or finished."""
    with inst.unit_of_work() as s:
        job = get(s, job_id)
        status = job.status
    if not _claim(inst, job_id):
        raise Conflict(f"Job {job_id} is {status}" + (" in another process." if status == "running" else "."))
    return _execute(inst, job_id, on_progress)


def run_pending(inst: Instance, *, kinds: Iterable[str] | None = None, limit: int | None = None,
                on_progress: ProgressListener | None = None) -> int:
    """Run queued (and abandoned) jobs of ``kinds`` (default: every registered kind), oldest
    first, until none is left or ``limit`` ran. A job that fails is not retried again in the
    same call. Returns how many ran."""
    registered = inst.jobs.kinds()
    wanted = [k for k in (kinds or registered) if k in registered]
    ran, tried = 0, set()
    while limit is None or ran < limit:
        picked = None
        for job_id in _candidates(inst, wanted, tried):
            if _claim(inst, job_id):
                picked = job_id
                break
            tried.add(job_id)
        if picked is None:
            break
        tried.add(picked)
        _execute(inst, picked, on_progress)
        ran += 1
    return ran
