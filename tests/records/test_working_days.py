"""The official calendar kept as data drives every working-day count: the return window and
the working-days option across National Day 2026, Spring Festival 2026 (the make-up Saturday
2026-02-14 counted) and New Year 2027 once its calendar is imported; a year without one is
provisional and says so; a bad import line changes nothing."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from zoneinfo import ZoneInfo

from records.accounts.models import User
from records.cases import deadlines
from records.errors import AccessDenied, ValidationError
from records.reference import calendar
from records.reference.models import CalendarYear

TZ = ZoneInfo("Asia/Shanghai")

#: Test data in the import format: a 2027 notice as the office would type it (New Year on
#: Friday 1 January to Sunday 3 January; Spring Festival 5-13 February with two make-up days).
NOTICE_2027 = """# 國務院辦公廳關於2027年部分節假日安排的通知（測試數據）
2027-01-01 holiday 元旦
2027-01-02 holiday 元旦
2027-01-03 holiday 元旦
2027-02-05 休 春節
2027-02-08 休 春節
2027-02-09 休 春節
2027-02-10 休 春節
2027-02-11 休 春節
2027-02-12 休 春節
2027-02-07 班 春節      # Sunday worked
2027-02-20 workday 春節
"""


def _cal(session, *, working_days: bool = False) -> deadlines.Calendar:
    return deadlines.Calendar(limits=deadlines.Limits(working_days=working_days), tz=TZ,
                              official=calendar.load(session))


def _routed(on: dt.date):
    return SimpleNamespace(routed_on=on)


def _received(on: dt.date):
    return SimpleNamespace(received_at=dt.datetime(on.year, on.month, on.day, 10, tzinfo=TZ), decided_at=None)


@pytest.fixture
def official(inst):
    with inst.unit_of_work() as s:
        return _cal(s), _cal(s, working_days=True)


def test_the_seeded_calendar_has_the_real_2026_schedule(inst):
    with inst.unit_of_work() as s:
        cal = calendar.load(s)
        assert not cal.is_provisional(2026)
        assert cal.is_working_day(dt.date(2026, 2, 14))           # make-up Saturday before Spring Festival
        assert not cal.is_working_day(dt.date(2026, 2, 16))
        assert not cal.is_working_day(dt.date(2026, 10, 7)) and cal.is_working_day(dt.date(2026, 10, 10))


def test_return_window_across_national_day_2026(official):
    cal, _ = official
    due = deadlines.return_window(cal, _routed(dt.date(2026, 9, 30)))
    assert due.on == dt.date(2026, 10, 13)      # 1-7 Oct off, Sat 10 Oct worked
    assert due.provisional == () and "provisional" not in due.explain()


def test_return_window_across_spring_festival_2026_counts_the_make_up_saturday(official):
    cal, _ = official
    assert deadlines.return_window(cal, _routed(dt.date(2026, 2, 13))).on == dt.date(2026, 2, 27)
    # the make-up Saturday is day 1: from Thursday 12 February, the window closes on Thursday 26
    assert deadlines.return_window(cal, _routed(dt.date(2026, 2, 12))).on == dt.date(2026, 2, 26)


def test_the_working_days_option_across_national_day(official):
    _, cal = official
    due = deadlines.decision_due(cal, _received(dt.date(2026, 9, 28)))
    assert due.working and due.on == dt.date(2026, 10, 23)
    assert "15 working days" in due.explain()


def test_new_year_2027_is_provisional_until_its_calendar_is_imported(inst, make_user):
    admin = make_user("admin")
    with inst.unit_of_work() as s:
        if not calendar.is_provisional(s, 2027):     # the package may know 2027 one day: start without it
            s.delete(s.get(CalendarYear, 2027))
        before = deadlines.return_window(_cal(s), _routed(dt.date(2026, 12, 29)))
        assert before.on == dt.date(2027, 1, 5) and before.provisional == (2027,)
        assert "provisional: no official holiday calendar entered for 2027" in before.explain()
        assert before.as_dict(dt.date(2026, 12, 29), with_reason=False)["provisional"] == [2027]
        assert calendar.missing_next_year(s, dt.date(2026, 11, 2)) == 2027
        assert calendar.missing_next_year(s, dt.date(2026, 10, 31)) is None
    with inst.unit_of_work() as s:
        assert calendar.import_text(s, NOTICE_2027, by=s.get(User, admin.id)) == [2027]
    with inst.unit_of_work() as s:
        after = deadlines.return_window(_cal(s), _routed(dt.date(2026, 12, 29)))
        assert after.on == dt.date(2027, 1, 6) and after.provisional == ()
        # Spring Festival 2027 with the working-days option: Sunday 7 February is worked
        option = deadlines.decision_due(_cal(s, working_days=True), _received(dt.date(2027, 2, 4)))
        assert option.on == dt.date(2027, 3, 3)
        assert calendar.missing_next_year(s, dt.date(2026, 11, 2)) is None


def test_a_year_with_no_calendar_is_provisional(official):
    cal, option = official
    due = deadlines.return_window(cal, _routed(dt.date(2099, 3, 2)))
    assert due.provisional == (2099,) and "provisional" in due.explain()
    assert deadlines.decision_due(option, _received(dt.date(2099, 3, 2))).provisional == (2099,)
    # counted in calendar days, nothing is provisional
    assert deadlines.decision_due(cal, _received(dt.date(2099, 3, 2))).provisional == ()


@pytest.mark.parametrize("text,line", [
    ("2030-01-01 holiday 元旦\n2030-13-01 holiday\n", "line 2"),
    ("2030-01-01 holiday\n2030-01-02 vacation\n", "line 2"),
    ("2030-01-01\n", "line 1"),
    ("2030-01-01 holiday\n\n# note\n2030-01-01 workday\n", "line 4"),
    ("2030-01-02 workday 星期三\n", "line 1"),                  # a make-up day is a weekend day
    ("year twenty\n", "line 1"),
    ("# only a comment\n", "no dates"),
])
def test_a_bad_calendar_file_names_the_line_and_changes_nothing(inst, make_user, text, line):
    admin = make_user("admin")
    with inst.unit_of_work() as s:
        before = (calendar.is_provisional(s, 2030), [d.day for d in calendar.days_of(s, 2030)])
        with pytest.raises(ValidationError) as exc:
            calendar.import_text(s, text, by=s.get(User, admin.id))
        assert line in exc.value.message
    with inst.unit_of_work() as s:
        assert (calendar.is_provisional(s, 2030), [d.day for d in calendar.days_of(s, 2030)]) == before


def test_an_import_replaces_whole_years_and_only_the_administrator_imports(inst, make_user):
    admin, clerk = make_user("admin"), make_user("clerk")
    with inst.unit_of_work() as s:
        calendar.import_text(s, "2031-01-01 holiday 元旦\n2031-01-04 workday\n", by=s.get(User, admin.id))
        calendar.import_text(s, "year 2031\n2031-01-01 holiday 元旦\n", by=s.get(User, admin.id))
        assert [(d.day, d.kind) for d in calendar.days_of(s, 2031)] == [(dt.date(2031, 1, 1), "holiday")]
        assert calendar.export_text(s, 2031) == "year 2031\n2031-01-01 holiday 元旦\n"
        with pytest.raises(AccessDenied):
            calendar.import_text(s, "2032-01-01 holiday\n", by=s.get(User, clerk.id))
        calendar.set_day(s, dt.date(2033, 5, 1), "holiday", "勞動節", by=s.get(User, admin.id))
        assert not calendar.is_provisional(s, 2033) and calendar.is_working_day(s, dt.date(2033, 5, 2))
        assert calendar.days_of(s, 2033)[0].name == "勞動節"


def test_a_transaction_reads_the_calendar_once_and_again_after_a_change(inst, make_user):
    """A record's page asks for the calendar several times; it is read once per transaction,
    and a change made in the transaction (or taken back with a savepoint) is seen at once."""
    admin = make_user("admin")
    day = dt.date(2034, 5, 2)   # a Tuesday
    with inst.unit_of_work() as s:
        first = calendar.load(s)
        assert calendar.load(s) is first and first.is_working_day(day)
        calendar.set_day(s, day, "holiday", "測試", by=s.get(User, admin.id))
        assert not calendar.load(s).is_working_day(day)
        with s.begin_nested() as savepoint:
            calendar.set_day(s, day, None, by=s.get(User, admin.id))
            assert calendar.load(s).is_working_day(day)
            savepoint.rollback()
        assert not calendar.load(s).is_working_day(day), "the savepoint's change was taken back"
        calendar.import_text(s, "year 2034\n", by=s.get(User, admin.id))
        assert calendar.load(s).is_working_day(day) and not calendar.load(s).is_provisional(2034)
    with inst.unit_of_work() as s:   # another transaction reads what was committed
        assert calendar.load(s).is_working_day(day) and not calendar.load(s).is_provisional(2034)
