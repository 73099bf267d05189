"""The supervision board (督辦): open matters that are overdue, due soon, extended or in review,
major cases (重大信訪案件, under the chief's oversight) and matters handed down from a higher
level (交辦件, with that body's own deadline), with who is responsible for each. A matter left
"replied" (or "review_replied") whose petitioner's window has closed is shown as concluding
until the daily sweep (:mod:`records.cases.sweep`) concludes it, so it never drops out of sight.

The board shows clear metadata only — serial, dates, status, office or unit, the first
responder (首問責任人) and the approving leader — never a letter's content or the
petitioner's identity, so inspectors see the same board as leaders (each within their
ledger scope). The CSV export is audited.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, selectinload

from records import audit, policy
from records.cases import deadlines
from records.errors import Codes, Msg, ValidationError
from records.reference.models import Office
from records.models import Record
from records.accounts.models import User

#: What the board can show; the default is everything but "open".
BUCKETS = ("overdue", "due_soon", "extended", "in_review", "major", "handed_down", "concluding", "open")
#: The buckets a row is flagged in (the board's sections).
FLAGS = BUCKETS[:-1]
#: The statuses a petitioner's window runs in, and the window's maker (the sweep uses the same).
WINDOWS = {"replied": deadlines.review_request_window, "review_replied": deadlines.rereview_request_window}
#: Statuses in which the office has a time limit to meet.
OPEN_STATUSES = ("registered", "accepted", "assigned", "transferred", "in_progress", "extended",
                 "review_requested", "rereview_requested")
IN_REVIEW = ("review_requested", "rereview_requested")

CSV_COLUMNS = ("serial", "status", "received_on", "office", "transferred_unit", "first_responder", "leader",
               "due_kind", "due_on", "days_left", "overdue", "due_soon", "extended", "in_review", "major",
               "handed_down", "handed_down_by", "handed_down_number", "handed_down_due_on", "concluding",
               "window_closed_on", "explanation")


@dataclass
class BoardFilters:
    bucket: str | None = None
    office: str | None = None
    leader: str | None = None
    first_responder: str | None = None

    @classmethod
    def parse(cls, args) -> BoardFilters:
        errors = {}
        f = cls()
        for name in ("bucket", "office", "leader", "first_responder"):
            value = args.get(name) or None
            if value is not None and (not isinstance(value, str) or len(value) > 64):
                errors[name] = "Invalid value."
                continue
            setattr(f, name, value.strip() if value else None)
        if f.bucket and f.bucket not in BUCKETS:
            errors["bucket"] = Msg("Must be one of: %(codes)s.", codes=Codes(BUCKETS))
        if errors:
            raise ValidationError("Invalid filter.", fields=errors)
        return f

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v}


@dataclass
class BoardRow:
    record: Record
    due: deadlines.Due | None
    overdue: bool
    due_soon: bool
    extended: bool
    in_review: bool
    today: dt.date = field(default_factory=dt.date.today)
    major: bool = False
    #: A matter handed down (交辦件) whose deadline or report-back is still owed.
    handed_down: bool = False
    #: The petitioner's window to ask for a (re-)review closed with no request: the daily sweep
    #: concludes the matter (``window`` is that window).
    window: deadlines.Due | None = None

    @property
    def concluding(self) -> bool:
        return self.window is not None

    @property
    def days_left(self) -> int | None:
        return None if self.due is None else self.due.days_left(self.today)

    def as_dict(self, tz) -> dict:
        r = self.record
        return {
            "serial": r.serial,
            "status": r.status,
            "received_on": r.received_at.astimezone(tz).date().isoformat(),
            "office": r.office.code,
            "office_name": r.office.name,
            "transferred_unit": r.transferred_unit,
            "first_responder": r.first_responder.display_name if r.first_responder else None,
            "leader": r.approved_by.display_name if r.approved_by else None,
            "due_kind": self.due.kind if self.due else None,
            "due_on": self.due.on.isoformat() if self.due else None,
            "days_left": self.days_left,
            "overdue": self.overdue,
            "due_soon": self.due_soon,
            "extended": self.extended,
            "in_review": self.in_review,
            "major": self.major,
            "handed_down": self.handed_down,
            "handed_down_by": r.handed_down_by,
            "handed_down_number": r.handed_down_number,
            "handed_down_due_on": r.handed_down_due_on.isoformat() if r.handed_down_due_on else None,
            "concluding": self.concluding,
            "window_closed_on": self.window.on.isoformat() if self.window else None,
            # the reason of an extension is content: never on the board
            "explanation": self.due.explain(with_reason=False) if self.due else "",
        }


@dataclass
class Board:
    rows: list[BoardRow]
    counts: dict[str, int]
    today: dt.date
    filters: BoardFilters


def _user_id(session: Session, username: str, name: str) -> int:
    uid = session.execute(select(User.id).where(User.username == username)).scalar_one_or_none()
    if uid is None:
        raise ValidationError("Invalid filter.", fields={name: "No user of that name."})
    return uid


def board(session: Session, user: User, filters: BoardFilters | None = None, *,
          today: dt.date | None = None) -> Board:
    """The board as ``user`` may see it (their ledger scope), most urgent first."""
    policy.require(user, policy.VIEW_BOARD)
    return rows_for(session, user, filters, today=today)


def rows_for(session: Session, user: User, filters: BoardFilters | None = None, *,
             today: dt.date | None = None) -> Board:
    """The board's rows within ``user``'s ledger scope; the caller checks the permission
    (the board's VIEW_BOARD, or HANDLE for a handler's own matters, records/cases/desk.py)."""
    filters = filters or BoardFilters()
    cal = deadlines.calendar_for(session)
    today = today or cal.today()
    owed = and_(Record.handed_down_due_on.is_not(None), Record.status.not_in(("stored", "concluded")),
                or_(Record.reported_back_on.is_(None), Record.report_back_required.is_(False)))
    major = and_(Record.major_at.is_not(None), Record.status.not_in(("stored", "concluded")))
    cond = [policy.scope_clause(user, policy.VIEW_LEDGER),
            or_(Record.status.in_(OPEN_STATUSES + tuple(WINDOWS)), owed, major)]
    if filters.office:
        office = session.execute(select(Office).where(Office.code == filters.office)).scalar_one_or_none()
        if office is None:
            raise ValidationError("Invalid filter.", fields={"office": "No office or unit with that code."})
        cond.append(Record.transferred_unit == office.code if office.is_external else Record.office_id == office.id)
    if filters.leader:
        cond.append(Record.approved_by_id == _user_id(session, filters.leader, "leader"))
    if filters.first_responder:
        cond.append(Record.first_responder_id == _user_id(session, filters.first_responder, "first_responder"))
    records = session.execute(
        select(Record).where(*cond).order_by(Record.received_at)
        .options(selectinload(Record.approved_by), selectinload(Record.extension_approved_by))
    ).scalars().all()
    soon = cal.limits.due_soon_days
    rows, counts = [], {b: 0 for b in BUCKETS}
    for r in records:
        due = deadlines.office_due(cal, r)
        handed = deadlines.handed_down_due(cal, r)
        row = BoardRow(record=r, due=due, today=today,
                       overdue=bool(due and due.overdue(today)),
                       due_soon=bool(due and 0 <= due.days_left(today) <= soon),
                       extended=r.status == "extended" or bool(r.extended_days),
                       in_review=r.status in IN_REVIEW, major=r.major_at is not None,
                       handed_down=bool(handed and handed.met_on is None), window=closed_window(cal, r, today))
        flags = [b for b in FLAGS if getattr(row, b)]
        if r.status in WINDOWS and not (r.major_at is not None or _owed(r)):
            # answered: on the board only once the petitioner's window closed, until the sweep
            # concludes it (and not as open work of the office)
            if not row.concluding:
                continue
            flags = buckets = ["concluding"]
        else:
            buckets = flags + ["open"]
        for b in buckets:
            counts[b] += 1
        if (filters.bucket in buckets) if filters.bucket else bool(flags):
            rows.append(row)
    rows.sort(key=lambda row: ((row.due or row.window).on if (row.due or row.window) else dt.date.max,
                               row.record.serial))
    return Board(rows=rows, counts=counts, today=today, filters=filters)


def _owed(r: Record) -> bool:
    """A handed-down matter whose report-back is still owed (the query's ``owed``, in Python)."""
    return r.handed_down_due_on is not None and (r.reported_back_on is None or not r.report_back_required)


def closed_window(cal: deadlines.Calendar, record: Record, today: dt.date) -> deadlines.Due | None:
    """The petitioner's window of a "replied" or "review_replied" matter, if it closed before
    ``today`` with no request made (the sweep concludes such a matter)."""
    maker = WINDOWS.get(record.status)
    window = maker(cal, record) if maker is not None else None
    if window is not None and window.met_on is None and today > window.on:
        return window
    return None


def to_csv(session: Session, user: User, filters: BoardFilters | None = None, *, today: dt.date | None = None,
           address: str = "") -> str:
    """The board as CSV (UTF-8 text, header row first); the export is audited."""
    result = board(session, user, filters, today=today)
    tz = deadlines.calendar_for(session).tz
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in result.rows:
        d = row.as_dict(tz)
        writer.writerow([_cell(d[c]) for c in CSV_COLUMNS])
    audit.record(session, "board.export", actor=user, address=address,
                 detail={"rows": len(result.rows), "filters": result.filters.as_dict(),
                         "today": result.today.isoformat()})
    return out.getvalue()


def _cell(value) -> str:
    """A CSV cell; text that a spreadsheet would run as a formula is quoted with a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not isinstance(value, str):
        return str(value)
    if value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
