"""Time limits: the arithmetic (month ends, leap days, working days) without a database, and
the boundaries the workflow enforces (30 days of extension accepted, 31 refused; a second
extension refused; a review asked on day 30 accepted, on day 31 refused)."""
from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from records.accounts import operations as accounts
from records.cases import deadlines, workflow
from records.settings import Settings
from records.cases.deadlines import Calendar, Limits
from records.errors import ConfigurationError, Conflict, ValidationError
from records.models import Record
from records.accounts.models import User
from tests.conftest import TEST_PASSWORD, unique

D = dt.date
TZ = ZoneInfo("Asia/Shanghai")
CAL = Calendar(Limits(), TZ)


def fake(**kw):
    """A record-like object with only the dates deadlines.py reads."""
    base = dict(received_at=dt.datetime(2026, 3, 2, 1, 0, tzinfo=dt.UTC), decided_at=None, accepted_on=None,
                extended_days=None, extended_on=None, extension_approved_by=None, replied_on=None, routed_on=None,
                reply_received_on=None, review_requested_on=None, review_replied_on=None,
                review_reply_received_on=None, rereview_requested_on=None, rereview_replied_on=None,
                status="registered")
    base.update(kw)
    return SimpleNamespace(**base)


# -- arithmetic ------------------------------------------------------------------------------------
@pytest.mark.parametrize("accepted,due", [
    (D(2026, 3, 2), D(2026, 5, 1)),      # the example of the issue
    (D(2026, 1, 31), D(2026, 4, 1)),     # from a month end
    (D(2027, 12, 31), D(2028, 2, 29)),   # onto a leap day
    (D(2028, 2, 29), D(2028, 4, 29)),    # from a leap day
    (D(2026, 12, 15), D(2027, 2, 13)),   # across the year end
])
def test_conclusion_is_sixty_calendar_days(accepted, due):
    assert deadlines.conclusion_due(CAL, fake(accepted_on=accepted)).on == due


def test_decision_counts_from_the_local_day_of_receipt():
    # 2026-03-01 17:00 UTC is already 2026-03-02 in Beijing
    record = fake(received_at=dt.datetime(2026, 3, 1, 17, 0, tzinfo=dt.UTC))
    due = deadlines.decision_due(CAL, record)
    assert (due.start, due.on) == (D(2026, 3, 2), D(2026, 3, 17))
    assert due.explain() == "received 2026-03-02 + 15 days = 2026-03-17"


def test_working_days_skip_weekends_holidays_and_count_make_up_days():
    cal = Calendar(Limits(holidays=frozenset({D(2026, 10, 1), D(2026, 10, 2)}),
                          workdays=frozenset({D(2026, 10, 10)})), TZ)
    assert cal.add(D(2026, 3, 6), 5, working=True) == D(2026, 3, 13)       # Friday -> next Friday
    assert cal.add(D(2026, 3, 7), 5, working=True) == D(2026, 3, 13)       # Saturday: Monday is day 1
    assert cal.add(D(2026, 9, 30), 1, working=True) == D(2026, 10, 5)      # over the holiday and weekend
    assert cal.add(D(2026, 10, 9), 1, working=True) == D(2026, 10, 10)     # a worked Saturday (調休)
    assert cal.add(D(2026, 3, 6), 5, working=False) == D(2026, 3, 11)


def test_extension_explains_itself_and_hides_the_reason_when_asked():
    record = fake(accepted_on=D(2026, 3, 2), extended_days=30, extended_on=D(2026, 4, 20),
                  extension_approved_by=SimpleNamespace(display_name="王局長"))
    due = deadlines.conclusion_due(CAL, record, extension_reason="案情複雜")
    assert due.on == D(2026, 5, 31) and due.cap == D(2026, 5, 31)
    assert due.explain() == ("accepted 2026-03-02 + 60 days = 2026-05-01; extended 30 days on 2026-04-20 "
                             "by 王局長: 案情複雜 = 2026-05-31")
    assert "案情複雜" not in due.explain(with_reason=False)
    assert "reason" not in due.as_dict(D(2026, 5, 1), with_reason=False)["extension"]
    assert due.as_dict(D(2026, 5, 1), with_reason=True)["extension"]["reason"] == "案情複雜"


def test_overdue_and_windows():
    due = deadlines.conclusion_due(CAL, fake(accepted_on=D(2026, 3, 2)))
    assert not due.overdue(D(2026, 5, 1)) and due.overdue(D(2026, 5, 2))
    assert due.days_left(D(2026, 4, 24)) == 7
    window = deadlines.review_request_window(CAL, fake(reply_received_on=D(2026, 2, 27)))
    assert window.on == D(2026, 3, 29) and window.is_window and not window.overdue(D(2027, 1, 1))


def test_working_day_configuration_changes_every_limit_but_not_the_return_window_rule():
    cal = Calendar(Limits(working_days=True), TZ)
    due = deadlines.conclusion_due(cal, fake(accepted_on=D(2026, 3, 2)))
    assert due.on == D(2026, 5, 25) and due.working
    assert "60 working days" in due.explain()


@pytest.mark.parametrize("raw,needle", [
    ({"nonsense": 1}, "Unknown deadline setting"),
    ({"conclusion_days": "60"}, "whole number"),
    ({"working_days": "yes"}, "true or false"),
    ({"holidays": ["2026-13-01"]}, "not a date"),
    ({"decision_days": 0}, "at least 1"),
])
def test_bad_configuration_is_refused_by_name(raw, needle):
    with pytest.raises(ConfigurationError, match=needle):
        Limits.from_mapping(raw)


def test_limits_come_from_settings_or_the_environment(tmp_path):
    settings = Settings.from_env({}, home=str(tmp_path), deadlines={"conclusion_days": 45})
    assert deadlines.limits_of(settings).conclusion_days == 45
    plain = Settings.from_env({"XINFANG_DEADLINES": '{"holidays": ["2026-10-01"]}'}, home=str(tmp_path))
    assert deadlines.limits_of(plain).holidays == frozenset({D(2026, 10, 1)})
    with pytest.raises(ConfigurationError, match="XINFANG_DEADLINES must be a JSON object"):
        Settings.from_env({"XINFANG_DEADLINES": "[1, 2]"}, home=str(tmp_path))
    with pytest.raises(ConfigurationError, match="XINFANG_DEADLINES is not valid JSON"):
        Settings.from_env({"XINFANG_DEADLINES": "{holidays"}, home=str(tmp_path))
    with pytest.raises(ConfigurationError, match="conclusion_days"):
        deadlines.limits_of(Settings.from_env({"XINFANG_DEADLINES": '{"conclusion_days": "many"}'},
                                              home=str(tmp_path)))


# -- the boundaries, through the workflow ---------------------------------------------------------------
@pytest.fixture(scope="module")
def people(inst):
    """One clerk, leader and handler for the module (password hashing is slow on purpose)."""
    out = {}
    with inst.unit_of_work() as s:
        for role, kw in (("clerk", {"office": "XFB"}), ("leader", {"oversees": ["LDJC"]}),
                         ("handler", {"office": "LDJC"})):
            out[role] = accounts.create_user(s, unique(role), TEST_PASSWORD, [role], **kw).id
    with inst.unit_of_work() as s:
        users = {role: s.get(User, uid) for role, uid in out.items()}
        for u in users.values():
            _ = u.overseen, u.office
        s.expunge_all()
    return SimpleNamespace(**users)


def _in_progress(session, make_record, p, accepted: dt.date, *, start: bool = True) -> Record:
    serial = make_record(p.clerk, received_at="2026-01-05T10:00")
    record = session.query(Record).filter_by(serial=serial).one()
    workflow.transition(session, record, "accept", by=p.leader, today=accepted)
    workflow.transition(session, record, "assign", by=p.leader, office="LDJC", today=accepted)
    if start:
        workflow.transition(session, record, "start", by=p.handler, today=accepted)
    return record


@pytest.fixture
def no_letters(monkeypatch):
    """The letters are tested in test_replies.py; here a stand-in keeps the boundaries fast."""
    from records.cases import notices as replies

    monkeypatch.setattr(replies, "render", lambda kind, context, settings=None: b"%PDF-1.4\n%stand-in\n%%EOF\n")


def test_extension_of_30_days_accepted_31_refused_and_a_second_refused(session, make_record, people, no_letters):
    record = _in_progress(session, make_record, people, D(2028, 1, 1))
    with pytest.raises(ValidationError) as exc:
        workflow.transition(session, record, "extend", by=people.leader, days=31, reason="複雜", today=D(2028, 2, 1))
    assert "at most 30 days" in exc.value.fields["days"]
    assert record.status == "in_progress"
    workflow.transition(session, record, "extend", by=people.leader, days=30, reason="複雜", today=D(2028, 2, 1))
    assert record.due_on == D(2028, 3, 31)            # 2028-01-01 + 60 = 2028-03-01 (leap year) + 30
    with pytest.raises(Conflict, match="second extension is not allowed"):
        workflow.transition(session, record, "extend", by=people.leader, days=1, reason="再延", today=D(2028, 2, 2))


def test_extension_after_the_limit_ran_out_is_refused(session, make_record, people):
    record = _in_progress(session, make_record, people, D(2026, 1, 10))
    assert "extend" in workflow.available(session, record, people.leader, today=D(2026, 3, 11))
    assert "extend" not in workflow.available(session, record, people.leader, today=D(2026, 3, 12))
    with pytest.raises(Conflict, match="ended on 2026-03-11"):
        workflow.transition(session, record, "extend", by=people.leader, days=10, reason="遲了", today=D(2026, 3, 12))


@pytest.mark.parametrize("day,ok", [(30, True), (31, False)])
def test_review_requested_on_day_30_accepted_day_31_refused(session, make_record, people, no_letters, day, ok):
    record = _in_progress(session, make_record, people, D(2026, 1, 10))
    workflow.transition(session, record, "reply", by=people.handler, text="答覆", today=D(2026, 1, 31),
                        finding={"outcome": "not_substantiated"})
    assert record.reply_received_on is None           # not recorded: the window assumes the reply's date
    asked = D(2026, 1, 31) + dt.timedelta(days=day)       # day 30 = 2026-03-02 (February has 28 days)
    if ok:
        workflow.transition(session, record, "request_review", by=people.clerk, on=asked, today=asked)
        assert record.status == "review_requested" and record.review_due_on == asked + dt.timedelta(days=30)
    else:
        with pytest.raises(Conflict, match="window closed on 2026-03-02"):
            workflow.transition(session, record, "request_review", by=people.clerk, on=asked, today=asked)
        assert record.status == "replied"


def test_rereview_window_counts_from_the_recorded_receipt(session, make_record, people, no_letters):
    record = _in_progress(session, make_record, people, D(2026, 1, 10))
    workflow.transition(session, record, "reply", by=people.handler, text="答覆", today=D(2026, 2, 1),
                        finding={"outcome": "substantiated"})
    workflow.transition(session, record, "request_review", by=people.clerk, today=D(2026, 2, 10))
    workflow.transition(session, record, "record_review_outcome", by=people.clerk, outcome="upheld",
                        today=D(2026, 3, 1))
    # the review answer reached the petitioner a week later: the re-review window moves with it
    workflow.transition(session, record, "acknowledge_receipt", by=people.clerk, on="2026-03-08", today=D(2026, 3, 9))
    late = D(2026, 3, 8) + dt.timedelta(days=30)
    workflow.transition(session, record, "request_rereview", by=people.clerk, on=late, today=late)
    assert record.rereview_due_on == late + dt.timedelta(days=30)


def test_return_within_five_working_days(session, make_record, people):
    record = _in_progress(session, make_record, people, D(2026, 3, 6), start=False)    # assigned on a Friday
    assert "return" in workflow.available(session, record, people.handler, today=D(2026, 3, 13))
    assert "return" not in workflow.available(session, record, people.handler, today=D(2026, 3, 16))
    with pytest.raises(Conflict, match="closed on 2026-03-13"):
        workflow.transition(session, record, "return", by=people.handler, reason="不屬本科", today=D(2026, 3, 16))
    workflow.transition(session, record, "return", by=people.handler, reason="不屬本科", today=D(2026, 3, 13))
    assert record.status == "accepted" and record.office.is_intake and record.due_on == D(2026, 5, 5)
