"""Statistics equal counts computed independently (in Python) from the fixture data; the same
on SQLite and PostgreSQL (set XINFANG_TEST_DATABASE_URL)."""
from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from sqlalchemy import select, update

from records.reporting import stats
from records.errors import AccessDenied, ValidationError
from records.reference.models import Office
from records.models import Record
from records.reporting.models import TermCount
from records.accounts.models import User

# (channel, category, region, received_at, people, id_number, text)
SPECS = [
    ("letter", "labour_wages", "110108", "2026-03-02T10:00", 1, "110108199001011231", "拖欠工資三個月"),
    ("letter", "labour_wages", "110108", "2026-03-05T09:00", 1, "110108199001011231", "仍然拖欠工資"),
    ("visit", "labour_wages", "110105", "2026-03-09T15:00", 5, "110105198502023333", "集體討薪，欠薪半年"),
    ("visit", "social_security", "110105", "2026-03-12T11:00", 2, "110105198502023333", "養老金計算有誤"),
    ("email", "social_security", "110101", "2026-03-20T08:30", 1, "110101197003035559", "養老金未發放"),
    ("phone", "environment", "110101", "2026-03-31T23:30", 1, "110101197003035559", "工地噪音擾民"),
    ("online", "land_housing", "110102", "2026-02-10T10:00", 1, "110102196504046661", "物業收費問題"),
    ("letter", "labour_wages", "110102", "2026-02-11T10:00", 1, "110102196504046661", "拖欠工資"),
    ("fax", "other", "110106", "2026-04-01T00:30", 1, "110106198005057774", "其他事項"),
]


@pytest.fixture(scope="module")
def data(inst):
    """Register SPECS once; move some to offices and give them due dates and replies."""
    from records.accounts import operations as accounts
    from records.cases import operations
    from tests.conftest import letter_data, unique

    with inst.unit_of_work() as s:
        clerk = accounts.create_user(s, unique("clerk"), "test-password-123", ["clerk"], office="XFB",
                                     display_name="clerk")
        serials = []
        for ch, cat, reg, at, people, idn, text in SPECS:
            r = operations.register(s, letter_data(channel=ch, category=cat, region=reg, received_at=at,
                                                   people_count=people, subject=text, body=text,
                                                   petitioner={"id_number": idn}), by=clerk)
            serials.append(r.serial)
    with inst.unit_of_work() as s:
        offices = {o.code: o.id for o in s.execute(select(Office)).scalars()}
        # 0: LDJC, replied on time; 1: LDJC, replied late; 3: SHBX, open and overdue; 4: SHBX, due later
        changes = [
            (0, {"office_id": offices["LDJC"], "status": "replied", "due_on": dt.date(2026, 5, 1),
                 "replied_on": dt.date(2026, 3, 20), "routed_on": dt.date(2026, 3, 3)}),
            (1, {"office_id": offices["LDJC"], "status": "replied", "due_on": dt.date(2026, 3, 10),
                 "replied_on": dt.date(2026, 3, 15), "routed_on": dt.date(2026, 3, 6)}),
            (3, {"office_id": offices["SHBX"], "status": "assigned", "due_on": dt.date(2026, 3, 25),
                 "routed_on": dt.date(2026, 3, 13)}),
            (4, {"office_id": offices["SHBX"], "status": "transferred", "due_on": dt.date(2026, 6, 1),
                 "transferred_unit": "EXT-HD", "routed_on": dt.date(2026, 3, 21)}),
        ]
        for i, values in changes:
            # routed matters were accepted (a leader decided) on the day they came in
            received = dt.datetime.fromisoformat(SPECS[i][3]).replace(tzinfo=TZ)
            values.update(decided_at=received.astimezone(dt.UTC), accepted_on=received.date())
            s.execute(update(Record).where(Record.serial == serials[i]).values(**values))
    return {"serials": serials, "clerk_id": clerk.id}


def _march() -> stats.StatsFilters:
    return stats.StatsFilters(dt.date(2026, 3, 1), dt.date(2026, 3, 31))


def _expected(rows):
    return {
        "total": len(rows),
        "people": sum(r[4] for r in rows),
        "by_channel": Counter(r[0] for r in rows),
        "by_category": Counter(r[1] for r in rows),
        "by_region": Counter(r[2] for r in rows),
    }


def test_counts_equal_independent_counts(data, session, make_user):
    chief = session.get(User, make_user("chief").id)
    result = stats.compute(session, chief, _march(), today=dt.date(2026, 4, 2))
    # 2026-03-31T23:30 and 2026-04-01T00:30 are office-local (Asia/Shanghai) times
    march = [r for r in SPECS if r[3].startswith("2026-03")]
    exp = _expected(march)
    assert result.total == exp["total"] == 6
    assert result.people == exp["people"] == 11
    assert result.by_channel == dict(exp["by_channel"])
    assert result.by_category == dict(exp["by_category"])
    assert result.by_region == dict(exp["by_region"])
    assert result.visits == 2
    assert result.by_office == {"XFB": 2, "LDJC": 2, "SHBX": 2}
    assert result.by_month == [("2026-03", 6)]
    assert result.transferred == {"EXT-HD": 1}
    assert result.assigned == 3
    # on time: LDJC replied twice in March, once on time
    assert [(r.office, r.replied, r.on_time, r.rate) for r in result.on_time] == [("LDJC", 2, 1, 0.5)]
    # open and overdue on 2026-04-02, by the board's rule: the undecided ones past their 15 days
    # (received 02-10, 02-11, 03-09); the routed ones have 60 days from acceptance; two replied
    expected = independent_open_overdue(dt.date(2026, 4, 2))
    assert (result.open, result.overdue) == expected == (7, 3)
    assert result.overdue_by_office == {"XFB": 3} and result.overdue_by_kind == {"decision": 3}


#: The fixture's decisions, by SPECS index: (accepted on, replied on) — none for the others.
DECIDED = {0: (dt.date(2026, 3, 2), dt.date(2026, 3, 20)), 1: (dt.date(2026, 3, 5), dt.date(2026, 3, 15)),
           3: (dt.date(2026, 3, 12), None), 4: (dt.date(2026, 3, 20), None)}
TZ = dt.timezone(dt.timedelta(hours=8))      # Asia/Shanghai (no daylight saving)


def independent_open_overdue(day: dt.date) -> tuple[int, int]:
    """Open and overdue matters as of ``day``, counted by hand from SPECS and DECIDED: the
    decision is due 15 days after receipt, the reply 60 days after acceptance."""
    open_, overdue = 0, 0
    for i, spec in enumerate(SPECS):
        received = dt.datetime.fromisoformat(spec[3]).date()
        if received > day:
            continue
        accepted, replied = DECIDED.get(i, (None, None))
        if accepted is None:
            due = received + dt.timedelta(days=15)
        elif replied is None or replied > day:
            due = accepted + dt.timedelta(days=60)
        else:
            continue
        open_ += 1
        overdue += day > due
    return open_, overdue


def test_figures_as_of_a_past_day_equal_an_independent_count(data, session, make_user):
    chief = session.get(User, make_user("chief").id)
    for day in (dt.date(2026, 3, 1), dt.date(2026, 3, 24), dt.date(2026, 3, 25), dt.date(2026, 3, 31),
                dt.date(2026, 5, 11), dt.date(2026, 5, 12)):
        result = stats.compute(session, chief, _march(), today=dt.date(2026, 6, 1), as_of=day)
        assert (result.open, result.overdue) == independent_open_overdue(day), day


def test_the_on_time_rate_counts_open_overdue_replies(data, session, make_user):
    chief = session.get(User, make_user("chief").id)
    # on 2026-05-20 records 3 and 4 (SHBX, accepted 03-12 and 03-20) are past their 60 days: not on time
    result = stats.compute(session, chief, stats.StatsFilters(dt.date(2026, 3, 1), dt.date(2026, 5, 20)),
                           as_of=dt.date(2026, 5, 20))
    rates = {r.office: (r.replied, r.on_time, r.overdue_open, r.rate) for r in result.on_time}
    assert rates == {"LDJC": (2, 1, 0, 0.5), "SHBX": (0, 0, 2, 0.0)}
    assert result.on_time_total.rate == round(1 / 4, 4)


def test_trend_and_year(data, session, make_user):
    chief = session.get(User, make_user("chief").id)
    f = stats.StatsFilters(dt.date(2026, 1, 1), dt.date(2026, 4, 30))
    result = stats.compute(session, chief, f, today=dt.date(2026, 5, 1))
    months = Counter(r[3][:7] for r in SPECS)
    assert result.by_month == [(m, months.get(m, 0)) for m in ("2026-01", "2026-02", "2026-03", "2026-04")]
    assert result.total == len(SPECS)


def test_repeat_petitioners_counted_not_named(data, session, make_user):
    chief = session.get(User, make_user("chief").id)
    result = stats.compute(session, chief, _march(), today=dt.date(2026, 4, 2))
    per_person = Counter(r[5] for r in SPECS if r[3].startswith("2026-03"))
    assert result.repeat_petitioners == sum(1 for n in per_person.values() if n >= 2) == 3
    assert "110108199001011231" not in repr(result.as_dict())
    # below the minimum, the figure is withheld
    assert stats.compute(session, chief, _march(), today=dt.date(2026, 4, 2), min_count=4).repeat_petitioners is None


def test_hot_categories_rising_with_minimum(data, session, make_user):
    chief = session.get(User, make_user("chief").id)
    # March vs the 31 days before (2026-01-29 .. 2026-02-28): labour_wages 3 vs 1
    result = stats.compute(session, chief, _march(), today=dt.date(2026, 4, 2), min_count=2)
    assert result.hot_categories == [("labour_wages", 3, 1), ("social_security", 2, 0)]
    assert stats.compute(session, chief, _march(), today=dt.date(2026, 4, 2), min_count=3).hot_categories == [
        ("labour_wages", 3, 1)]


def test_frequent_terms_are_aggregates_with_a_minimum(data, session, make_user):
    rows = session.execute(select(TermCount).where(TermCount.month == "2026-03")).scalars().all()
    counts = {r.term: r.count for r in rows}
    texts = [r[6] for r in SPECS if r[3].startswith("2026-03")]
    assert counts["wage_arrears"] == sum(1 for t in texts if stats.terms_in(t) & {"wage_arrears"}) == 3
    assert counts["pension"] == 2 and counts["pollution"] == 1
    assert stats.frequent_terms(session, dt.date(2026, 3, 1), dt.date(2026, 3, 31), min_count=2) == [
        ("wage_arrears", 3), ("pension", 2)]
    assert stats.frequent_terms(session, dt.date(2026, 3, 1), dt.date(2026, 3, 31)) == [("wage_arrears", 3)]
    # the table has no column that could hold text or a record
    assert {c.name for c in TermCount.__table__.columns} == {"month", "term", "count"}


def test_terms_fold_traditional_and_simplified():
    assert stats.terms_in("拖欠工資") == stats.terms_in("拖欠工资") == {"wage_arrears"}
    assert stats.terms_in("ＡＢＣ") == set()


def test_leader_sees_only_overseen_offices(data, session, make_user):
    leader = session.get(User, make_user("leader", oversees=("SHBX",)).id)
    result = stats.compute(session, leader, _march(), today=dt.date(2026, 4, 2))
    assert result.by_office == {"XFB": 2, "SHBX": 2}
    assert result.total == 4


def test_office_filter_and_permission(data, make_user, inst):
    inspector_id, clerk_id = make_user("inspector").id, make_user("clerk").id
    with inst.unit_of_work() as session:
        _office_filter_and_permission(session, session.get(User, inspector_id), session.get(User, clerk_id))


def _office_filter_and_permission(session, inspector, clerk):
    f = stats.StatsFilters(dt.date(2026, 3, 1), dt.date(2026, 3, 31), office="LDJC")
    assert stats.compute(session, inspector, f, today=dt.date(2026, 4, 2)).total == 2
    with pytest.raises(ValidationError):
        stats.compute(session, inspector, stats.StatsFilters(dt.date(2026, 3, 1), dt.date(2026, 3, 31), "NOPE"))
    with pytest.raises(AccessDenied):
        stats.compute(session, clerk, _march())


def test_filter_parsing():
    today = dt.date(2026, 11, 25)
    f = stats.StatsFilters.parse({}, today=today)
    assert (f.date_from, f.date_to) == (dt.date(2026, 1, 1), today)
    for bad in ({"from": "2026-13-01"}, {"from": "x"}, {"from": "2026-05-01", "to": "2026-04-01"}):
        with pytest.raises(ValidationError):
            stats.StatsFilters.parse(bad, today=today)
    assert stats.month_period("2026-02") == (dt.date(2026, 2, 1), dt.date(2026, 2, 28))
    with pytest.raises(ValidationError):
        stats.month_period("2026-2x")
