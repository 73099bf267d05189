"""A destruction run as a background job, never inside a web or API request.

``start_destruction`` checks (``destroy.check_run``, the one set of checks) and queues a
``destruction`` job for the batch (one active job per batch); the runner
(``xinfang jobs run``, or the worker the web starts) calls ``run_destruction``, which checks
again, runs ``destroy.run`` (journaled, resumable: a killed worker's job is picked up again
and the run resumes from its journal) and reports its phases as the job's progress. The
result (certificate number, letters, residue check) is kept in the job's state.

``app.composition.build_instance`` registers the handler; importing this module does not."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from records.accounts.models import User
from records.errors import Conflict, ValidationError
from records.instance import Instance
from records.jobs import runner
from records.jobs.models import Job
from records.jobs.registry import JobContext, JobRegistry

from . import destroy
from .models import Batch
from .operations import get_batch

DESTRUCTION = "destruction"
#: A failed run (not a refusal) is tried again this many times in all; each attempt resumes.
MAX_ATTEMPTS = 3
#: The progress note of a destruction job is the run's phase: starting, prepare, delete,
#: index, compact, verify (``destroy.run``'s progress phases), certified.


def dedupe_key(batch_id: int) -> str:
    return f"batch:{batch_id}"


def start_destruction(session: Session, batch: Batch, *, by: User | None,
                      today: dt.date | None = None) -> Job:
    """Check, then queue the destruction of ``batch`` (flushed; the caller commits). A
    batch whose destruction is already queued or running gets that job back."""
    destroy.check_run(session, batch, user=by, today=today)
    return runner.submit(session, DESTRUCTION, by=by, dedupe_key=dedupe_key(batch.id),
                         payload={"batch_id": batch.id, "today": today.isoformat() if today else None})


def latest_job(session: Session, batch_id: int) -> Job | None:
    """The batch's most recent destruction job (the web and the API show its progress)."""
    return session.execute(select(Job).where(Job.kind == DESTRUCTION, Job.dedupe_key == dedupe_key(batch_id))
                           .order_by(Job.id.desc()).limit(1)).scalars().first()


def job_json(job: Job) -> dict:
    """The job as the API shows it: status, progress, result, error (no letter content)."""
    state = job.state or {}
    return {"id": job.id, "kind": job.kind, "status": job.status, "attempts": job.attempts,
            "progress": {"done": job.progress_done, "total": job.progress_total, "note": job.progress_note},
            "certificate": state.get("certificate"), "destroyed": state.get("letters"),
            "residue_clean": state.get("residue_clean"), "error": job.error,
            "created_at": job.created_at.isoformat() if job.created_at else None,
            "finished_at": job.finished_at.isoformat() if job.finished_at else None}


def _today(payload: dict) -> dt.date | None:
    raw = payload.get("today")
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except (TypeError, ValueError):
        raise ValidationError("The job's date is not a date.") from None


def run_destruction(inst: Instance, ctx: JobContext) -> None:
    """The handler of ``destruction`` jobs."""
    batch_id, today = ctx.payload.get("batch_id"), _today(ctx.payload)
    by_id = ctx.created_by_id
    with inst.unit_of_work() as s:
        batch = get_batch(s, batch_id)
        user = s.get(User, by_id) if by_id else None
        destroy.check_run(s, batch, user=user, today=today)
    ctx.progress(0, None, "starting")

    def progress(phase: str, done: int, total: int) -> None:
        ctx.progress(done, total, phase)

    reports = destroy.run(inst, batch_id=batch_id, by_id=by_id, today=today, progress=progress)
    done = [r for r in reports if r.certificate]
    if not done:
        raise Conflict(reports[0].note if reports and reports[0].note else "Nothing was destroyed.")
    r = done[-1]
    ctx.checkpoint({"certificate": r.certificate, "letters": len(r.letters), "residue_clean": r.residue_clean,
                    "seconds": round(r.seconds, 3), "resumed": r.resumed})
    ctx.progress(len(r.letters), len(r.letters), "certified")


def register(jobs: JobRegistry) -> None:
    jobs.register(DESTRUCTION, run_destruction, max_attempts=MAX_ATTEMPTS)
