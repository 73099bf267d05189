"""The duty roster (Art 20): leaders' reception days (接待日) and staff on duty (值班), day by day.

Working days come from the official calendar kept as data (``records.reference.calendar``:
the State Council's notice as entered by the office, seeded from ``chinesecalendar``):
public holidays are skipped and weekend make-up working days (調休上班) count as working
days. For a year not entered yet the roster can still be read, on a provisional calendar
(Monday to Friday, no public holidays, each day marked ``official=False``), and one person
can still be put on a given day (:func:`assign`: the office must know who receives
visitors today); but a month cannot be built (:func:`build` refuses, asking for the year's
calendar), since a plan made without the holidays would put people on them.

The roster holds who and when only. Conflicts are flagged, not silently fixed: a person
on a day that is not a working day, a working day without a receiving leader or without
staff on duty, a reception day held by someone who is not a leader, an inactive account.
The clerk registering a visit gets the receiving leader of the day as first responder
(首問責任人, Art 17) by default.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from records import audit, policy
from records.reporting import stats
from records.errors import Msg, NotFound, ValidationError
from records.reporting.models import DutyDay
from records.reference.calendar import WorkingCalendar
from records.reference.calendar import load as official_calendar
from records.accounts.models import User

KINDS = ("reception", "duty")
#: The permission a person needs to be put on each kind of day (the policy says who holds it).
KIND_PERMISSIONS = {"reception": policy.RECEIVE_VISITORS, "duty": policy.BE_ON_DUTY}


@dataclass
class Day:
    on: dt.date
    workday: bool
    #: The holiday's English name from the calendar (e.g. "National Day"), when it is one.
    holiday: str | None = None
    entries: list[DutyDay] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    #: False on the provisional calendar of a year the official one does not cover yet.
    official: bool = True

    @property
    def makeup(self) -> bool:
        """A weekend day that is worked (調休)."""
        return self.workday and self.on.weekday() >= 5

    def people(self, kind: str) -> list[User]:
        return [e.user for e in self.entries if e.kind == kind]


def day_info(cal: WorkingCalendar, on: dt.date, *, provisional: bool = False) -> Day:
    """The day on the official calendar ``cal`` (read from the database); for a year with no
    calendar entered, the provisional one when ``provisional`` (Monday to Friday are working
    days), else a ValidationError."""
    if cal.is_provisional(on.year):
        if provisional:
            return Day(on=on, workday=on.weekday() < 5, official=False)
        raise ValidationError(
            f"The official holiday calendar for {on.year} has not been entered yet: an administrator "
            "imports the State Council's notice (Administration → Calendar, or 'xinfang calendar import').",
            fields={"month": "No official calendar for this year."})
    name = cal.holiday_name(on) if on in cal.holidays else None
    return Day(on=on, workday=cal.is_working_day(on), holiday=name or None)


def month_days(cal: WorkingCalendar, month: str, *, provisional: bool = False) -> list[Day]:
    """Every day of ``YYYY-MM`` with its working-day status from the official calendar
    (see :func:`day_info` for ``provisional``)."""
    start, end = stats.month_period(month)
    return [day_info(cal, start + dt.timedelta(days=i), provisional=provisional)
            for i in range((end - start).days + 1)]


def working_days(cal: WorkingCalendar, month: str) -> list[dt.date]:
    return [d.on for d in month_days(cal, month) if d.workday]


def _users(session: Session, usernames: list[str], permission: str, name: str, errors: dict) -> list[User]:
    out = []
    for username in usernames:
        u = session.execute(select(User).where(User.username == username)).scalar_one_or_none() \
            if isinstance(username, str) and len(username) <= 64 else None
        if u is None or not u.active:
            errors[name] = Msg("No active user named %(name)s.", name=f"{username!s:.64}")
        elif not policy.holds(u, permission):
            errors[name] = Msg("%(name)s may not be put on this list.", name=u.username)
        else:
            out.append(u)
    return out


def month(session: Session, user: User, month_code: str) -> list[Day]:
    """The roster of the month, day by day, with conflicts flagged; on the provisional
    calendar when the official one does not cover the year yet."""
    policy.require(user, policy.VIEW_ROSTER)
    days = month_days(official_calendar(session), month_code, provisional=True)
    start, end = days[0].on, days[-1].on
    entries = session.execute(select(DutyDay).where(DutyDay.on >= start, DutyDay.on <= end)
                              .order_by(DutyDay.on, DutyDay.kind, DutyDay.id)).scalars().all()
    by_day: dict[dt.date, list[DutyDay]] = {}
    for e in entries:
        by_day.setdefault(e.on, []).append(e)
    for d in days:
        d.entries = by_day.get(d.on, [])
        d.conflicts = conflicts(d)
    return days


def conflicts(day: Day) -> list[str]:
    """Codes of what is wrong with a day's roster (empty when nothing is)."""
    out = []
    if day.entries and not day.workday:
        out.append("not_a_working_day")
    if day.workday:
        if not day.people("reception"):
            out.append("no_reception")
        if not day.people("duty"):
            out.append("no_duty")
    if any(not e.user.active for e in day.entries):
        out.append("inactive")
    if any(not policy.holds(e.user, policy.RECEIVE_VISITORS, even_inactive=True)
           for e in day.entries if e.kind == "reception"):
        out.append("not_a_leader")
    return out


def build(session: Session, month_code: str, *, leaders: list[str], staff: list[str], by: User,
          weekdays: tuple[int, ...] = (0, 1, 2, 3, 4), address: str = "") -> list[Day]:
    """(Re)build the month: leaders take reception days in turn on the working days whose
    weekday is in ``weekdays`` (Monday = 0; make-up working days on a weekend always count),
    staff take duty in turn on every working day. Replaces what the month held."""
    policy.require(by, policy.MANAGE_ROSTER)
    errors: dict[str, str] = {}
    leader_users = _users(session, leaders, policy.RECEIVE_VISITORS, "leaders", errors)
    staff_users = _users(session, staff, policy.BE_ON_DUTY, "staff", errors)
    if not leaders:
        errors["leaders"] = "Name at least one leader."
    if not staff:
        errors["staff"] = "Name at least one member of staff."
    if not weekdays or any(w not in range(7) for w in weekdays):
        errors["weekdays"] = "Choose reception weekdays (Monday to Sunday)."
    if errors:
        raise ValidationError("The roster cannot be built.", fields=errors)
    days = month_days(official_calendar(session), month_code)
    start, end = days[0].on, days[-1].on
    session.execute(delete(DutyDay).where(DutyDay.on >= start, DutyDay.on <= end))
    reception_i = duty_i = 0
    for d in days:
        if not d.workday:
            continue
        if d.on.weekday() in weekdays or d.makeup:
            session.add(DutyDay(on=d.on, kind="reception", user_id=leader_users[reception_i % len(leader_users)].id,
                                created_by_id=by.id))
            reception_i += 1
        session.add(DutyDay(on=d.on, kind="duty", user_id=staff_users[duty_i % len(staff_users)].id,
                            created_by_id=by.id))
        duty_i += 1
    session.flush()
    audit.record(session, "roster.build", actor=by, address=address,
                 detail={"month": month_code, "reception_days": reception_i, "duty_days": duty_i,
                         "leaders": [u.id for u in leader_users], "staff": [u.id for u in staff_users]})
    return month(session, by, month_code)


def assign(session: Session, on: dt.date, kind: str, username: str, *, by: User, address: str = "") -> DutyDay:
    """Put one person on the roster for a day (a swap, a second leader...)."""
    policy.require(by, policy.MANAGE_ROSTER)
    errors: dict[str, str] = {}
    if kind not in KINDS:
        errors["kind"] = "Must be reception or duty."
    users = _users(session, [username], KIND_PERMISSIONS.get(kind, policy.BE_ON_DUTY), "username", errors)
    if errors:
        raise ValidationError("The roster cannot be changed.", fields=errors)
    existing = session.execute(select(DutyDay).where(DutyDay.on == on, DutyDay.kind == kind,
                                                     DutyDay.user_id == users[0].id)).scalar_one_or_none()
    if existing is not None:
        return existing
    entry = DutyDay(on=on, kind=kind, user_id=users[0].id, created_by_id=by.id)
    session.add(entry)
    session.flush()
    audit.record(session, "roster.assign", actor=by, address=address,
                 detail={"on": on.isoformat(), "kind": kind, "user_id": users[0].id})
    return entry


def remove(session: Session, entry_id: int, *, by: User, address: str = "") -> None:
    policy.require(by, policy.MANAGE_ROSTER)
    entry = session.get(DutyDay, entry_id) if isinstance(entry_id, int) else None
    if entry is None:
        raise NotFound("No such roster entry.")
    detail = {"on": entry.on.isoformat(), "kind": entry.kind, "user_id": entry.user_id}
    session.delete(entry)
    session.flush()
    audit.record(session, "roster.remove", actor=by, address=address, detail=detail)


def on_duty(session: Session, on: dt.date) -> dict[str, list[User]]:
    """Who receives and who is on duty on ``on`` (active accounts only)."""
    entries = session.execute(select(DutyDay).where(DutyDay.on == on).order_by(DutyDay.id)).scalars().all()
    return {k: [e.user for e in entries if e.kind == k and e.user.active] for k in KINDS}


def receiving_leader(session: Session, on: dt.date) -> User | None:
    """The leader who receives visits on ``on`` (the first on the roster), or None."""
    leaders = [u for u in on_duty(session, on)["reception"] if policy.holds(u, policy.RECEIVE_VISITORS)]
    return leaders[0] if leaders else None
