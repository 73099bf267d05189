"""Every statutory time limit and every due date computed from it, in one place.

The limits (national regulation and the bureau's Art 8 and Art 9):

==========================  =======  ==========================================================
limit                       default  what it bounds
==========================  =======  ==========================================================
``decision_days``           15       deciding whether to accept, from the day the matter came in
``conclusion_days``         60       concluding (the written reply), from the day it was accepted
``max_extension_days``      30       the one extension (only one) a leader may approve, with a reason
``review_request_days``     30       the petitioner's review (複查) request, from receipt of the reply
``review_reply_days``       30       the review office's answer, from the request
``rereview_request_days``   30       the re-review (複核) request, from receipt of the review answer
``rereview_reply_days``     30       the next level's answer, from the re-review request
``return_working_days``     5        returning a matter sent to a unit whose remit it is not
``due_soon_days``           7        what the supervision board calls "due soon"
==========================  =======  ==========================================================

Days are calendar days unless ``working_days`` is set; the return window always counts
working days on the official calendar kept as data (``records.reference.calendar``: the
State Council's holidays excluded, its weekend make-up working days, 調休, included; a due
date counted through a year with no calendar entered says "provisional"), and the
configured ``holidays``/``workdays`` on top of it. Configure them in
``Settings.deadlines`` (the ``XINFANG_DEADLINES`` environment variable, a JSON
object), e.g. ``{"working_days": false, "holidays": ["2026-10-01", "2026-10-02"]}``.

A due date is never stored alone: :func:`dues` rebuilds each one from the dates the
workflow recorded (received, accepted, extended, reply received, review requested…) and
the limits, and every :class:`Due` can say how it was computed ("accepted 2026-03-02 + 60
days = 2026-05-01; extended 30 days on 2026-04-20 by 王局長: … = 2026-05-31"). The
``due_on``/``review_due_on``/``rereview_due_on`` columns are a copy the transitions write
for queries.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from zoneinfo import ZoneInfo

from records.errors import ConfigurationError, Msg
from records.reference.calendar import WorkingCalendar
from records.reference.calendar import load as official_calendar

# -- limits -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    decision_days: int = 15
    conclusion_days: int = 60
    max_extension_days: int = 30
    review_request_days: int = 30
    review_reply_days: int = 30
    rereview_request_days: int = 30
    rereview_reply_days: int = 30
    return_working_days: int = 5
    due_soon_days: int = 7
    #: Count the limits above (except the return window, always working days) in working days.
    working_days: bool = False
    holidays: frozenset[dt.date] = field(default_factory=frozenset)
    #: Weekend days that are working days (調休).
    workdays: frozenset[dt.date] = field(default_factory=frozenset)

    @classmethod
    def from_mapping(cls, raw: dict | None) -> Limits:
        """Limits from configuration; unknown keys and bad values are refused, naming the key."""
        raw = dict(raw or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigurationError(f"Unknown deadline setting(s): {', '.join(unknown)}. "
                                     f"Known: {', '.join(sorted(known))}.")
        values: dict = {}
        for name, value in raw.items():
            if name == "working_days":
                if not isinstance(value, bool):
                    raise ConfigurationError("Deadline setting working_days must be true or false.")
                values[name] = value
            elif name in ("holidays", "workdays"):
                if not isinstance(value, (list, tuple, set, frozenset)):
                    raise ConfigurationError(f"Deadline setting {name} must be a list of dates (YYYY-MM-DD).")
                days = set()
                for item in value:
                    try:
                        days.add(item if isinstance(item, dt.date) else dt.date.fromisoformat(str(item)))
                    except ValueError:
                        raise ConfigurationError(f"Deadline setting {name}: {item!r} is not a date "
                                                 "(YYYY-MM-DD).") from None
                values[name] = frozenset(days)
            else:
                if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 3650:
                    raise ConfigurationError(f"Deadline setting {name} must be a whole number of days "
                                             "from 0 to 3650.")
                values[name] = value
        limits = cls(**values)
        if limits.decision_days < 1 or limits.conclusion_days < 1:
            raise ConfigurationError("decision_days and conclusion_days must be at least 1.")
        return limits


def limits_of(settings) -> Limits:
    """The instance's limits: ``settings.deadlines`` (``XINFANG_DEADLINES``) over the defaults."""
    return Limits.from_mapping(settings.deadlines if settings is not None else None)


# -- the calendar ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Calendar:
    """The limits with the office's time zone: turns instants into local dates and adds days."""

    limits: Limits = field(default_factory=Limits)
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    #: The official calendar from the database (records.reference.calendar); None: Monday to Friday.
    official: WorkingCalendar | None = None

    def local_date(self, instant: dt.datetime) -> dt.date:
        return instant.astimezone(self.tz).date()

    def today(self) -> dt.date:
        return dt.datetime.now(self.tz).date()

    def is_working_day(self, day: dt.date) -> bool:
        """The configured exceptions first, then the official calendar (holidays, make-up days)."""
        if day in self.limits.workdays:
            return True
        if day in self.limits.holidays:
            return False
        if self.official is not None:
            return self.official.is_working_day(day)
        return day.weekday() < 5

    def provisional_years(self, start: dt.date, end: dt.date) -> tuple[int, ...]:
        """The years from ``start`` to ``end`` whose official calendar is not entered (a count of
        working days through them is provisional)."""
        if self.official is None:
            return ()
        return tuple(self.official.provisional_years(start, end))

    def add(self, start: dt.date, days: int, *, working: bool | None = None) -> dt.date:
        """``start`` + ``days``: calendar days, or working days (the day after ``start`` is day 1)."""
        working = self.limits.working_days if working is None else working
        if not working:
            return start + dt.timedelta(days=days)
        day, counted = start, 0
        while counted < days:
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                counted += 1
        return day


def calendar_for(session) -> Calendar:
    """The calendar of the instance behind ``session``."""
    from records.instance import instance_of

    settings = instance_of(session).settings
    return Calendar(limits=limits_of(settings), tz=settings.tz, official=official_calendar(session))


# -- due dates ---------------------------------------------------------------------------------

#: kind -> (what starts the clock, whose clock it is, the Limits field)
KINDS: dict[str, tuple[str, str, str]] = {
    "decision": ("received", "office", "decision_days"),
    "conclusion": ("accepted", "office", "conclusion_days"),
    "return": ("routed", "unit", "return_working_days"),
    "review_request": ("reply received", "petitioner", "review_request_days"),
    "review_reply": ("review requested", "office", "review_reply_days"),
    "rereview_request": ("review answer received", "petitioner", "rereview_request_days"),
    "rereview_reply": ("re-review requested", "office", "rereview_reply_days"),
    #: 交辦件: the deadline the higher body set (a date, not a number of days), met by the report-back
    #: (報結) or, when none is required, by the written answer.
    "handed_down": ("handed down", "office", ""),
}


@dataclass(frozen=True)
class Extension:
    days: int
    on: dt.date
    by: str
    #: The reason (sealed content): None when the viewer may not read the record's content.
    reason: str | None = None


@dataclass(frozen=True)
class Due:
    """One due date and how it came about."""

    kind: str
    start: dt.date
    days: int
    working: bool
    #: ``start`` + ``days``, before any extension.
    base_on: dt.date
    #: The due date itself (with the extension, if any).
    on: dt.date
    #: The latest this due date may ever be (base + the largest extension allowed).
    cap: dt.date
    extension: Extension | None = None
    #: The day the step it waits for happened: the clock stopped then.
    met_on: dt.date | None = None
    #: Set when the start is an assumption (e.g. the day of receipt not yet recorded): says which.
    assumed: str | None = None
    #: Years counted in working days with no official calendar entered: the date is provisional.
    provisional: tuple[int, ...] = ()

    @property
    def start_event(self) -> str:
        return KINDS[self.kind][0]

    @property
    def party(self) -> str:
        """Whose clock: ``office`` (ours), ``petitioner`` (a window to ask) or ``unit`` (to return)."""
        return KINDS[self.kind][1]

    @property
    def is_window(self) -> bool:
        """A window a petitioner or unit may use, rather than a time limit the office must meet."""
        return self.party != "office"

    def days_left(self, today: dt.date) -> int:
        return (self.on - today).days

    def overdue(self, today: dt.date) -> bool:
        """An office time limit that passed with the step still not taken."""
        return self.met_on is None and not self.is_window and today > self.on

    def explain(self, *, with_reason: bool = True) -> str:
        unit = "working days" if self.working else "days"
        if self.days == 1:
            unit = unit[:-1]
        text = f"{self.start_event} {self.start.isoformat()} + {self.days} {unit} = {self.base_on.isoformat()}"
        if self.kind == "handed_down":
            text = f"deadline set by the body that handed the matter down: {self.on.isoformat()}"
        if self.assumed:
            text += f" (assumed: {self.assumed})"
        ext = self.extension
        if ext is not None:
            ext_unit = "working days" if self.working else "days"
            text += f"; extended {ext.days} {ext_unit[:-1] if ext.days == 1 else ext_unit} on {ext.on.isoformat()}"
            if ext.by:
                text += f" by {ext.by}"
            if with_reason and ext.reason:
                text += f": {ext.reason}"
            text += f" = {self.on.isoformat()}"
        if self.met_on is not None:
            text += f" (met on {self.met_on.isoformat()})"
        if self.provisional:
            years = ", ".join(str(y) for y in self.provisional)
            text += f" (provisional: no official holiday calendar entered for {years})"
        return text

    def as_dict(self, today: dt.date, *, with_reason: bool) -> dict:
        ext = self.extension
        return {
            "kind": self.kind,
            "party": self.party,
            "on": self.on.isoformat(),
            "start": self.start.isoformat(),
            "days": self.days,
            "working_days": self.working,
            "base_on": self.base_on.isoformat(),
            "cap": self.cap.isoformat(),
            "extension": None if ext is None else {
                "days": ext.days, "on": ext.on.isoformat(), "by": ext.by,
                **({"reason": ext.reason} if with_reason and ext.reason else {})},
            "met_on": self.met_on.isoformat() if self.met_on else None,
            "assumed": self.assumed,
            "provisional": list(self.provisional),
            "days_left": None if self.met_on else self.days_left(today),
            "overdue": self.overdue(today),
            "explanation": self.explain(with_reason=with_reason),
        }


def _due(cal: Calendar, kind: str, start: dt.date, *, met_on=None, extension: Extension | None = None,
         working: bool | None = None, limit: str | None = None, assumed: str | None = None) -> Due:
    limit_name = limit or KINDS[kind][2]
    days = getattr(cal.limits, limit_name)
    working = cal.limits.working_days if working is None else working
    base = cal.add(start, days, working=working)
    on = cal.add(base, extension.days, working=working) if extension else base
    cap = cal.add(base, cal.limits.max_extension_days, working=working) if kind == "conclusion" else base
    provisional = cal.provisional_years(start, on) if working else ()
    return Due(kind=kind, start=start, days=days, working=working, base_on=base, on=on, cap=cap,
               extension=extension, met_on=met_on, assumed=assumed, provisional=provisional)


def decision_due(cal: Calendar, record) -> Due:
    met = cal.local_date(record.decided_at) if record.decided_at else None
    return _due(cal, "decision", cal.local_date(record.received_at), met_on=met)


def conclusion_due(cal: Calendar, record, *, extension_reason: str | None = None) -> Due | None:
    if record.accepted_on is None:
        return None
    ext = None
    if record.extended_days:
        by = record.extension_approved_by.display_name if record.extension_approved_by else ""
        ext = Extension(days=record.extended_days, on=record.extended_on, by=by, reason=extension_reason)
    # a review of a subordinate unit's decision is answered within the review limit (Art 9)
    limit = "review_reply_days" if getattr(record, "review_of_unit", None) else None
    return _due(cal, "conclusion", record.accepted_on, met_on=record.replied_on, extension=ext, limit=limit)


def return_window(cal: Calendar, record) -> Due | None:
    if record.routed_on is None:
        return None
    return _due(cal, "return", record.routed_on, working=True)


#: What a window assumes while the petitioner's receipt of the answer is not recorded.
ASSUMED_RECEIPT = "receipt not recorded; counted from the day the answer was issued"


def review_request_window(cal: Calendar, record) -> Due | None:
    """Art 9: 30 days from the day the petitioner received the written reply; until that day is
    recorded (``acknowledge_receipt``), from the day of the reply, and the explanation says so."""
    start = record.reply_received_on or record.replied_on
    if start is None:
        return None
    return _due(cal, "review_request", start, met_on=record.review_requested_on,
                assumed=None if record.reply_received_on else ASSUMED_RECEIPT)


def review_reply_due(cal: Calendar, record) -> Due | None:
    if record.review_requested_on is None:
        return None
    return _due(cal, "review_reply", record.review_requested_on, met_on=record.review_replied_on)


def rereview_request_window(cal: Calendar, record) -> Due | None:
    start = record.review_reply_received_on or record.review_replied_on
    if start is None:
        return None
    return _due(cal, "rereview_request", start, met_on=record.rereview_requested_on,
                assumed=None if record.review_reply_received_on else ASSUMED_RECEIPT)


def handed_down_due(cal: Calendar, record) -> Due | None:
    """The deadline of a matter handed down (交辦件), set by the higher body itself."""
    on = getattr(record, "handed_down_due_on", None)
    if on is None:
        return None
    start = cal.local_date(record.received_at)
    met = record.reported_back_on if record.report_back_required else record.replied_on
    return Due(kind="handed_down", start=start, days=(on - start).days, working=False, base_on=on, on=on, cap=on,
               met_on=met)


def rereview_reply_due(cal: Calendar, record) -> Due | None:
    if record.rereview_requested_on is None:
        return None
    return _due(cal, "rereview_reply", record.rereview_requested_on, met_on=record.rereview_replied_on)


#: status -> the due date that is running in it (None: no clock)
CLOCK_OF_STATUS: dict[str, str] = {
    "registered": "decision",
    "accepted": "conclusion", "assigned": "conclusion", "transferred": "conclusion",
    "in_progress": "conclusion", "extended": "conclusion",
    "replied": "review_request",
    "review_requested": "review_reply",
    "review_replied": "rereview_request",
    "rereview_requested": "rereview_reply",
}


def dues(cal: Calendar, record, *, extension_reason: str | None = None) -> list[Due]:
    """Every due date of the record that has started, in the order of the matter's life.
    The return window is listed only while the matter sits with the unit it was sent to."""
    out = [decision_due(cal, record)]
    conclusion = conclusion_due(cal, record, extension_reason=extension_reason)
    if conclusion:
        out.append(conclusion)
    if record.status in ("assigned", "transferred"):
        window = return_window(cal, record)
        if window:
            out.append(window)
    for make in (review_request_window, review_reply_due, rereview_request_window, rereview_reply_due,
                 handed_down_due):
        due = make(cal, record)
        if due:
            out.append(due)
    return out


def current_due(cal: Calendar, record, *, extension_reason: str | None = None) -> Due | None:
    """The due date running in the record's status (an office limit or a petitioner's window)."""
    kind = CLOCK_OF_STATUS.get(record.status)
    if kind is None:
        return None
    return next((d for d in dues(cal, record, extension_reason=extension_reason) if d.kind == kind), None)


def office_due(cal: Calendar, record) -> Due | None:
    """The time limit the office must meet now (what the supervision board tracks), if any: the
    clock of the record's status, or a handed-down matter's own deadline when that comes first
    (or is the only one still running, e.g. a report-back owed after the reply)."""
    due = current_due(cal, record)
    due = due if due is not None and due.party == "office" else None
    handed = handed_down_due(cal, record) if record.status not in ("stored", "concluded") else None
    if handed is not None and handed.met_on is None and (due is None or handed.on < due.on):
        return handed
    return due


def office_due_as_of(cal: Calendar, record, day: dt.date) -> Due | None:
    """The time limit the office had to meet on ``day`` (statistics and reports as of a past
    date): of those that had started by then and whose step had not happened by then, the one
    due first. For ``day`` = today it is :func:`office_due`, so the figures and the board agree."""
    if cal.local_date(record.received_at) > day:
        return None
    if record.concluded_at is not None and cal.local_date(record.concluded_at) <= day:
        return None
    if record.status == "stored" and record.decided_at is not None and cal.local_date(record.decided_at) <= day:
        return None
    running = [d for d in dues(cal, record)
               if d.party == "office" and d.start <= day and (d.met_on is None or d.met_on > day)]
    return min(running, key=lambda d: d.on) if running else None


# -- checks the workflow's guards use --------------------------------------------------------------


def extension_refusal(cal: Calendar, record, today: dt.date) -> str | None:
    """Why the record cannot be extended now (before looking at the days asked for), or None."""
    if record.extended_days:
        return (f"The time limit was already extended once ({record.extended_days} days on "
                f"{record.extended_on.isoformat()}); a second extension is not allowed (Art 8).")
    if cal.limits.max_extension_days < 1:
        return "Extensions are not allowed by this instance's configuration."
    due = conclusion_due(cal, record)
    if due is None:
        return "Only an accepted matter can be extended."
    if today > due.on:
        return (f"The time limit ended on {due.on.isoformat()}; an extension must be approved before "
                "it runs out.")
    return None


def extension_days_problem(cal: Calendar, days) -> str | None:
    """Why ``days`` is not an acceptable extension, or None."""
    top = cal.limits.max_extension_days
    if isinstance(days, bool) or not isinstance(days, int):
        return f"Give the extension as a whole number of days from 1 to {top}."
    if days < 1:
        return "An extension is at least 1 day."
    if days > top:
        return f"An extension is at most {top} days (Art 8); {days} were asked for."
    return None


def window_refusal(due: Due | None, on: dt.date, what: str) -> str | None:
    """Why a request dated ``on`` falls outside the window ``due``, or None."""
    if due is None:
        return Msg("There is no %(what)s window for this matter.", what=what)
    if on < due.start:
        return Msg("The %(what)s cannot be dated %(day)s, before the window opened (%(start)s).", what=what,
                   day=on, start=due.start)
    if on > due.on:
        return Msg("The %(what)s window closed on %(due)s; a request dated %(day)s is too late.", what=what,
                   due=due.on, day=on)
    return None
