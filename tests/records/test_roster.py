"""The duty roster over October 2026: National Day (1–7 October) skipped, Saturday
10 October (a make-up working day, 調休) counted; conflicts flagged."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from records.reference.calendar import load as official_calendar
from records.reporting import roster
from records.errors import AccessDenied, ValidationError
from records.models import AuditEntry
from records.reporting.models import DutyDay
from records.accounts.models import User


@pytest.fixture
def cal(inst):
    """The official calendar as the instance keeps it (seeded from chinesecalendar at init)."""
    with inst.unit_of_work() as s:
        return official_calendar(s)


def test_calendar_of_october_2026(cal):
    days = {d.on: d for d in roster.month_days(cal, "2026-10")}
    assert len(days) == 31
    for day in range(1, 8):
        assert not days[dt.date(2026, 10, day)].workday
        assert days[dt.date(2026, 10, day)].holiday == "National Day"
    assert days[dt.date(2026, 10, 10)].workday and days[dt.date(2026, 10, 10)].makeup
    assert not days[dt.date(2026, 10, 11)].workday
    # 22 weekdays, 5 of them in the holiday, plus the make-up Saturday
    weekdays = sum(1 for d in days if d.weekday() < 5)
    assert len(roster.working_days(cal, "2026-10")) == weekdays - 5 + 1 == 18


def test_build_month_skips_holidays_and_counts_makeup_day(inst, make_user, cal):
    l1, l2 = make_user("leader"), make_user("leader")
    c1, c2 = make_user("clerk"), make_user("clerk")
    boss = make_user("chief")
    with inst.unit_of_work() as s:
        days = roster.build(s, "2026-10", leaders=[l1.username, l2.username], staff=[c1.username, c2.username],
                            by=s.get(User, boss.id), weekdays=(1, 3))  # Tuesdays and Thursdays
    by_day = {d.on: d for d in days}
    reception = [d.on for d in days if d.people("reception")]
    duty = [d.on for d in days if d.people("duty")]
    assert duty == roster.working_days(cal, "2026-10")
    assert not any(dt.date(2026, 10, n) in duty for n in range(1, 8))
    # Tuesdays and Thursdays outside the holiday, plus the make-up Saturday
    expected = sorted([d for d in roster.working_days(cal, "2026-10") if d.weekday() in (1, 3)] + [dt.date(2026, 10, 10)])
    assert reception == expected
    assert [u.username for u in by_day[reception[0]].people("reception")] == [l1.username]
    assert [u.username for u in by_day[reception[1]].people("reception")] == [l2.username]
    # working days without a reception day are flagged, holidays are not
    assert "no_reception" in by_day[dt.date(2026, 10, 12)].conflicts
    assert by_day[dt.date(2026, 10, 1)].conflicts == []
    assert by_day[dt.date(2026, 10, 13)].conflicts == []
    with inst.unit_of_work() as s:
        assert s.execute(select(AuditEntry).where(AuditEntry.action == "roster.build")).scalars().first()
        assert roster.receiving_leader(s, dt.date(2026, 10, 10)).username in (l1.username, l2.username)
        assert roster.receiving_leader(s, dt.date(2026, 10, 12)) is None


def test_assign_on_holiday_is_flagged_and_remove(inst, make_user):
    leader, chief = make_user("leader"), make_user("chief")
    with inst.unit_of_work() as s:
        entry = roster.assign(s, dt.date(2026, 10, 3), "reception", leader.username, by=s.get(User, chief.id))
        entry_id = entry.id
    with inst.unit_of_work() as s:
        day = next(d for d in roster.month(s, s.get(User, chief.id), "2026-10") if d.on == dt.date(2026, 10, 3))
        assert "not_a_working_day" in day.conflicts
        roster.remove(s, entry_id, by=s.get(User, chief.id))
    with inst.unit_of_work() as s:
        assert s.get(DutyDay, entry_id) is None


def test_refusals(inst, make_user, cal):
    clerk, chief, handler = make_user("clerk"), make_user("chief"), make_user("handler")
    with inst.unit_of_work() as s:
        with pytest.raises(AccessDenied):
            roster.build(s, "2026-10", leaders=[], staff=[], by=s.get(User, clerk.id))
        with pytest.raises(ValidationError) as exc:
            roster.build(s, "2026-10", leaders=[handler.username], staff=["nobody-here"], by=s.get(User, chief.id))
        assert set(exc.value.fields) == {"leaders", "staff"}
        with pytest.raises(ValidationError):
            roster.month_days(cal, "2099-01")
        with pytest.raises(ValidationError):
            roster.assign(s, dt.date(2026, 10, 9), "cook", clerk.username, by=s.get(User, chief.id))


def test_a_year_without_the_official_calendar(inst, make_user, cal):
    """Read on a provisional calendar (weekdays, no holidays), one person may be put on a
    day, but a month cannot be built until the year's calendar is entered."""
    chief, leader = make_user("chief"), make_user("leader")
    with inst.unit_of_work() as s:
        me = s.get(User, chief.id)
        days = roster.month(s, me, "2099-01")
        assert len(days) == 31 and not any(d.official for d in days) and not any(d.holiday for d in days)
        assert [d.workday for d in days[:7]] == [d.on.weekday() < 5 for d in days[:7]]
        assert "no_reception" in days[1].conflicts    # 2 January 2099 is a Friday
        with pytest.raises(ValidationError) as exc:
            roster.build(s, "2099-01", leaders=[leader.username], staff=[leader.username], by=me)
        assert "has not been entered yet" in exc.value.message
        roster.assign(s, dt.date(2099, 1, 2), "reception", leader.username, by=me)
    with inst.unit_of_work() as s:
        day = next(d for d in roster.month(s, s.get(User, chief.id), "2099-01") if d.on == dt.date(2099, 1, 2))
        assert [u.id for u in day.people("reception")] == [leader.id] and "no_reception" not in day.conflicts
    assert all(d.official for d in roster.month_days(cal, "2026-10"))



def test_a_month_builds_once_its_years_calendar_is_imported(inst, make_user):
    """January of a year the package does not know: refused, then built on the imported notice."""
    from records.reference import calendar

    chief, leader, clerk, admin = make_user("chief"), make_user("leader"), make_user("clerk"), make_user("admin")
    with inst.unit_of_work() as s:
        with pytest.raises(ValidationError):
            roster.build(s, "2098-01", leaders=[leader.username], staff=[clerk.username], by=s.get(User, chief.id))
        calendar.import_text(s, "2098-01-01 holiday 元旦\n2098-01-02 holiday 元旦\n2098-01-04 workday 元旦\n",
                             by=s.get(User, admin.id))
    with inst.unit_of_work() as s:
        days = roster.build(s, "2098-01", leaders=[leader.username], staff=[clerk.username], by=s.get(User, chief.id))
    by_day = {d.on: d for d in days}
    assert all(d.official for d in days)
    assert not by_day[dt.date(2098, 1, 1)].people("duty") and by_day[dt.date(2098, 1, 1)].holiday == "元旦"
    assert by_day[dt.date(2098, 1, 4)].people("duty")          # a Saturday worked
