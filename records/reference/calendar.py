"""The official working-day calendar, kept as data: the holidays and make-up working days
(調休) of each year the office has entered from the State Council's notice.

Every working-day computation reads it (the deadlines' return window and working-days
option in ``records.cases.deadlines``, the duty roster in ``records.reporting.roster``). A
year with no calendar entered is *provisional*: Monday to Friday are taken as working days,
and whatever is computed with it says so.

``chinesecalendar`` seeds the years it knows at ``xinfang init``; later years come from
``xinfang calendar import FILE`` (or the admin page), one day per line::

    # 國務院辦公廳關於2027年部分節假日安排的通知
    2027-01-01 holiday 元旦
    2027-02-06 workday 春節
    2027-02-07  休  春節          # 休 = holiday, 班 = workday; the name is optional
    year 2027                     # a year with no exception at all still counts as entered

A file replaces the whole of every year it names (its dates' years and ``year`` lines), all
or nothing: a bad line is refused with its number and nothing is imported.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from records import audit
from records.reference import require_manager
from records.errors import Msg, Quoted, ValidationError
from records.reference.models import CalendarDay, CalendarYear

HOLIDAY, WORKDAY = "holiday", "workday"
KINDS = {"holiday": HOLIDAY, "休": HOLIDAY, "假": HOLIDAY, "workday": WORKDAY, "班": WORKDAY, "work": WORKDAY}
#: A working-day count never runs longer than this many calendar days (a configuration error guard).
MAX_SPAN = 3660


@dataclass(frozen=True)
class WorkingCalendar:
    """The calendar as read from the database at one moment (cheap: a few dozen rows a year)."""

    holidays: frozenset[dt.date] = frozenset()
    workdays: frozenset[dt.date] = frozenset()
    #: The years whose official calendar has been entered.
    years: frozenset[int] = frozenset()
    names: tuple[tuple[dt.date, str], ...] = ()

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.workdays:
            return True
        if day in self.holidays:
            return False
        return day.weekday() < 5

    def is_provisional(self, year: int) -> bool:
        return year not in self.years

    def add_working_days(self, start: dt.date, days: int) -> dt.date:
        """The ``days``-th working day after ``start`` (the day after ``start`` is the first candidate)."""
        day, counted = start, 0
        while counted < days:
            day += dt.timedelta(days=1)
            if (day - start).days > MAX_SPAN:
                raise ValidationError(Msg("%(n)s working days after %(day)s is beyond ten years.", n=days, day=start))
            if self.is_working_day(day):
                counted += 1
        return day

    def provisional_years(self, start: dt.date, end: dt.date) -> list[int]:
        """The years between the two dates (inclusive) that have no calendar."""
        lo, hi = sorted((start, end))
        return [y for y in range(lo.year, hi.year + 1) if y not in self.years]

    def holiday_name(self, day: dt.date) -> str | None:
        return dict(self.names).get(day)


#: Where a session keeps the calendar its transaction read (``load``). A record's page works out
#: its due dates and its possible steps, each with the calendar: read once, not every time
#: (about 2 ms each, with the calendars of a few years). Changed here only (``_forget``).
_KEPT = "xinfang.working_calendar"


def load(session: Session) -> WorkingCalendar:
    """The calendar as this transaction sees it (read once per transaction)."""
    kept = session.info.get(_KEPT)
    if kept is not None and kept[0] is _transaction(session):
        return kept[1]
    rows = session.execute(select(CalendarDay.day, CalendarDay.kind, CalendarDay.name)).all()
    years = frozenset(session.execute(select(CalendarYear.year)).scalars())
    cal = WorkingCalendar(
        holidays=frozenset(d for d, k, _ in rows if k == HOLIDAY),
        workdays=frozenset(d for d, k, _ in rows if k == WORKDAY),
        years=years, names=tuple((d, n) for d, k, n in rows if n and k == HOLIDAY))
    session.info[_KEPT] = (_transaction(session), cal)
    return cal


def _transaction(session: Session):
    """The innermost transaction: what a savepoint's rollback takes back is not kept past it."""
    return session.get_nested_transaction() or session.get_transaction()


def _forget(session: Session) -> None:
    """The calendar changed in this transaction: the next ``load`` reads it again."""
    session.info.pop(_KEPT, None)


def is_working_day(session: Session, day: dt.date) -> bool:
    return load(session).is_working_day(day)


def add_working_days(session: Session, start: dt.date, days: int) -> dt.date:
    return load(session).add_working_days(start, days)


def is_provisional(session: Session, year: int) -> bool:
    if not 1900 <= year <= 2199:   # no calendar can be entered for it (and no query with a huge number)
        return True
    return session.get(CalendarYear, year) is None


def years(session: Session) -> list[CalendarYear]:
    return list(session.execute(select(CalendarYear).order_by(CalendarYear.year)).scalars())


def days_of(session: Session, year: int) -> list[CalendarDay]:
    if not 1900 <= year <= 2199:   # a year the office could have a calendar for (issue 15: no 500)
        raise ValidationError("The year is out of range (1900 to 2199).", fields={"year": "1900 to 2199."})
    lo, hi = dt.date(year, 1, 1), dt.date(year, 12, 31)
    return list(session.execute(select(CalendarDay).where(CalendarDay.day >= lo, CalendarDay.day <= hi)
                                .order_by(CalendarDay.day)).scalars())


def missing_next_year(session: Session, today: dt.date) -> int | None:
    """From 1 November: next year, while its calendar has not been entered (else None)."""
    if (today.month, today.day) < (11, 1):
        return None
    nxt = today.year + 1
    return nxt if is_provisional(session, nxt) else None


# -- entering years -----------------------------------------------------------------------------


def _replace_years(session: Session, entries: dict[int, list[tuple[dt.date, str, str]]], source: str) -> None:
    for year, days in sorted(entries.items()):
        session.execute(delete(CalendarDay).where(CalendarDay.day >= dt.date(year, 1, 1),
                                                  CalendarDay.day <= dt.date(year, 12, 31)))
        for day, kind, name in days:
            session.add(CalendarDay(day=day, kind=kind, name=name))
        row = session.get(CalendarYear, year)
        if row is None:
            session.add(CalendarYear(year=year, source=source))
        else:
            row.source = source
            row.entered_at = dt.datetime.now(dt.UTC)
    session.flush()
    _forget(session)


def seed_from_package(session: Session) -> list[int]:
    """Enter the years ``chinesecalendar`` knows that have no calendar yet; returns them."""
    try:
        import chinese_calendar
        from chinese_calendar import constants
    except ImportError:  # the package is a seed, not a requirement of the calendar
        return []
    source = f"chinesecalendar {getattr(chinese_calendar, '__version__', '')}".strip()
    have = set(session.execute(select(CalendarYear.year)).scalars())
    entries: dict[int, list[tuple[dt.date, str, str]]] = {}
    for table, kind in ((constants.holidays, HOLIDAY), (constants.workdays, WORKDAY)):
        for day, name in table.items():
            if day.year in have:
                continue
            entries.setdefault(day.year, []).append((day, kind, str(getattr(name, "value", name))[:100]))
    _replace_years(session, entries, source)
    return sorted(entries)


def parse(text: str) -> dict[int, list[tuple[dt.date, str, str]]]:
    """The years and days of an import file; a ValidationError naming every bad line."""
    entries: dict[int, list[tuple[dt.date, str, str]]] = {}
    seen: dict[dt.date, int] = {}
    errors: list[str] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split(None, 2)
        if parts[0].lower() == "year":
            if len(parts) != 2 or not parts[1].isdigit() or not 1990 <= int(parts[1]) <= 2200:
                errors.append(Msg("line %(n)s: 'year' takes one year (e.g. year 2027): %(line)s", n=number,
                                  line=Quoted(raw.strip()[:80])))
            else:
                entries.setdefault(int(parts[1]), [])
            continue
        if len(parts) < 2:
            errors.append(Msg("line %(n)s: expected a date and its kind (holiday/workday, 休/班): %(line)s", n=number,
                              line=Quoted(raw.strip()[:80])))
            continue
        try:
            day = dt.date.fromisoformat(parts[0])
        except ValueError:
            errors.append(Msg("line %(n)s: %(value)s is not a date (like 2027-01-01)", n=number, value=Quoted(parts[0][:20])))
            continue
        kind = KINDS.get(parts[1].lower())
        if kind is None:
            errors.append(Msg("line %(n)s: unknown kind %(kind)s; use holiday or workday (休 or 班)", n=number,
                              kind=Quoted(parts[1][:20])))
            continue
        if day in seen:
            errors.append(Msg("line %(n)s: %(day)s is already given on line %(first)s", n=number, day=day,
                              first=seen[day]))
            continue
        if kind == WORKDAY and day.weekday() < 5:
            errors.append(Msg("line %(n)s: %(day)s is a weekday; a make-up working day (班) is a Saturday or "
                              "Sunday", n=number, day=day))
            continue
        name = parts[2].strip()[:100] if len(parts) > 2 else ""
        seen[day] = number
        entries.setdefault(day.year, []).append((day, kind, name))
    if errors:
        lines = tuple(errors[:20])
        raise ValidationError(Msg("The calendar was not imported (nothing was changed): %(lines)s", lines=lines),
                              fields={"file": Msg("%(lines)s", lines=lines)})
    if not entries:
        raise ValidationError("The calendar file has no dates (nothing was changed).",
                              fields={"file": "No dates."})
    return entries


def import_text(session: Session, text: str, *, by=None, address: str = "", source: str = "import") -> list[int]:
    """Replace the years the file names with its days (all or nothing); returns the years."""
    require_manager(by)
    entries = parse(text)
    _replace_years(session, entries, source)
    audit.record(session, "reference.calendar.import", actor=by, address=address,
                 detail={"years": sorted(entries), "days": sum(len(v) for v in entries.values())})
    return sorted(entries)


def export_text(session: Session, year: int) -> str:
    """The year in the import format (for editing and re-importing)."""
    lines = [f"year {year}"]
    lines += [f"{d.day.isoformat()} {d.kind} {d.name}".rstrip() for d in days_of(session, year)]
    return "\n".join(lines) + "\n"


def set_day(session: Session, day: dt.date, kind: str | None, name: str = "", *, by=None,
            address: str = "") -> None:
    """Make one day a holiday or make-up working day, or (``kind`` None) an ordinary day again.
    The day's year counts as entered from then on."""
    require_manager(by)
    if kind is not None and kind not in (HOLIDAY, WORKDAY):
        raise ValidationError("kind: holiday or workday.", fields={"kind": "holiday or workday."})
    if kind == WORKDAY and day.weekday() < 5:
        raise ValidationError(Msg("%(day)s is a weekday: a make-up working day is a Saturday or Sunday.",
                                  day=day),
                              fields={"day": "A Saturday or Sunday."})
    row = session.get(CalendarDay, day)
    if kind is None:
        if row is not None:
            session.delete(row)
    elif row is None:
        session.add(CalendarDay(day=day, kind=kind, name=(name or "")[:100]))
    else:
        row.kind, row.name = kind, (name or "")[:100]
    if session.get(CalendarYear, day.year) is None:
        session.add(CalendarYear(year=day.year, source="admin"))
    session.flush()
    _forget(session)
    audit.record(session, "reference.calendar.day", actor=by, address=address,
                 detail={"day": day.isoformat(), "kind": kind})
