"""Where each role's work waits: a handler's own matters (assigned to them or their office,
nearest deadline first, with due today / this week / overdue counts) and a leader's
decisions (matters to accept, extensions asked for). Built on the board's rows and the
policy; no deadline rule of its own (those are records/cases/deadlines.py's)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from records import policy
from records.accounts.models import User
from records.errors import AccessDenied
from records.models import Record

from .board import BoardFilters, BoardRow, rows_for

#: "This week": a deadline within this many days from today (today included).
WEEK_DAYS = 7


@dataclass
class MyMatters:
    rows: list[BoardRow]
    counts: dict[str, int] = field(default_factory=dict)
    today: dt.date | None = None


def my_matters(session: Session, user: User, *, today: dt.date | None = None) -> MyMatters:
    """Open matters whose first responder is ``user`` or that sit with ``user``'s office."""
    if not policy.holds(user, policy.HANDLE):
        raise AccessDenied("You are not allowed to do this.")
    b = rows_for(session, user, BoardFilters(bucket="open"), today=today)
    rows = [r for r in b.rows if r.record.first_responder_id == user.id
            or (user.office_id is not None and r.record.office_id == user.office_id)]
    counts = {"overdue": sum(1 for r in rows if r.overdue),
              "due_today": sum(1 for r in rows if r.days_left == 0),
              "this_week": sum(1 for r in rows if r.days_left is not None and 0 <= r.days_left < WEEK_DAYS)}
    return MyMatters(rows=rows, counts=counts, today=b.today)


@dataclass
class Decisions:
    to_accept: list[Record]
    extensions: list[Record]


def decisions(session: Session, user: User) -> Decisions:
    """Registered matters waiting for acceptance and extensions asked for, that ``user`` may decide."""
    if not (policy.holds(user, policy.DECIDE) or policy.holds(user, policy.APPROVE_EXTENSION)):
        raise AccessDenied("You are not allowed to do this.")
    scope = policy.scope_clause(user, policy.VIEW_LEDGER)
    registered = session.execute(select(Record).where(scope, Record.status == "registered")
                                 .order_by(Record.received_at)).scalars().all()
    asked = session.execute(select(Record).where(scope, Record.extension_requested_days.is_not(None))
                            .order_by(Record.extension_requested_on)).scalars().all()
    return Decisions(to_accept=[r for r in registered if policy.can(user, policy.DECIDE, r)],
                     extensions=[r for r in asked if policy.can(user, policy.APPROVE_EXTENSION, r)])

