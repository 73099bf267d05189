"""The daily sweep: a matter left "replied" (or "review_replied") after the petitioner's window
to ask for a review (or re-review) closed concludes by itself, with an event and an audit entry.

It is a scheduled step, not a user's transition: the job kind ``cases.sweep`` drives it, in one
unit of work per run. The kind is ``daily``: ``xinfang jobs run`` (the job runner's cron line
or service) queues one per office day by itself; ``xinfang workflow sweep`` runs it at once.
Running it twice on a day does nothing more the second time. The window is the
one :mod:`records.cases.deadlines` computes (from the recorded day of receipt, or the day of the
answer while receipt is not recorded), so the board, the record page and the sweep agree.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from records import audit
from records.cases import deadlines
from records.cases.board import WINDOWS, closed_window
from records.db import utcnow
from records.models import OutboxEntry, Record, RecordEvent

EVENT_KIND = "auto_conclude"
JOB_KIND = "cases.sweep"


@dataclass
class SweepResult:
    today: dt.date
    concluded: list[str] = field(default_factory=list)


def due_for_conclusion(session: Session, today: dt.date, cal: deadlines.Calendar | None = None) -> list[Record]:
    """Matters whose petitioner's window closed before ``today`` with no request made."""
    cal = cal or deadlines.calendar_for(session)
    records = session.execute(select(Record).where(Record.status.in_(tuple(WINDOWS)))
                              .order_by(Record.id)).scalars().all()
    return [record for record in records if closed_window(cal, record, today) is not None]


def sweep(session: Session, *, today: dt.date | None = None) -> SweepResult:
    """Conclude every matter whose window closed (flushes; the caller's unit of work commits)."""
    cal = deadlines.calendar_for(session)
    today = today or cal.today()
    now = utcnow()
    result = SweepResult(today=today)
    for record in due_for_conclusion(session, today, cal):
        window = WINDOWS[record.status](cal, record)
        old = record.status
        record.status = "concluded"
        record.concluded_at = now
        record.updated_at = now
        session.add(RecordEvent(record=record, actor_id=None, kind=EVENT_KIND, from_status=old,
                                to_status="concluded"))
        session.add(OutboxEntry(record_uid=record.uid, op="index"))
        audit.record(session, "record.transition", actor=None, actor_name="system:sweep", target=record.serial,
                     detail={"transition": EVENT_KIND, "from": old, "to": "concluded", "on": today.isoformat(),
                             "window_closed_on": window.on.isoformat(), "explanation": window.explain(with_reason=False)})
        result.concluded.append(record.serial)
    session.flush()
    return result


def run_job(inst, ctx) -> dict:
    """The job handler of ``cases.sweep`` (payload: optional ``today`` as YYYY-MM-DD)."""
    today = ctx.payload.get("today")
    with inst.unit_of_work() as session:
        result = sweep(session, today=dt.date.fromisoformat(today) if today else None)
    ctx.progress(len(result.concluded), len(result.concluded))
    return {"today": result.today.isoformat(), "concluded": result.concluded}


def register_jobs(registry) -> None:
    """Called by the composition root."""
    registry.register(JOB_KIND, run_job, max_attempts=3, daily=True)
