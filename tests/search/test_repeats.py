"""Repeat-letter candidates at registration, and marking a letter as a repeat."""
import datetime as dt
import json
import secrets

import pytest
from sqlalchemy import select, update

from records.errors import AccessDenied, NotFound, ValidationError
from records.models import AuditEntry, Record
from records.accounts.models import User
from search import repeats
from tests.conftest import new_person

COMPLAINT = ("本人於二零二五年在某某建築工程有限公司工地做鋼筋工，老闆以工程款未結為由一直拖欠我們"
             "十二名工人的工資共計八萬六千元，多次討要無果，請求勞動監察部門責令其支付並依法處理。")
UNRELATED = "小區門口的垃圾站每天清晨五點開始作業，噪音和臭味嚴重影響居民休息，請城管部門協調搬遷。"


def report_for(inst, serial, user):
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        rep = repeats.candidates(s, record, s.get(User, user.id))
        return {
            "count": rep.count_before, "by": rep.matched_by,
            "same": [(c.record.serial, c.reasons) for c in rep.same_petitioner],
            "similar": [(c.record.serial, c.overlap) for c in rep.similar],
            "closest": rep.closest.record.serial if rep.closest else None,
            "store": rep.suggest_store.record.serial if rep.suggest_store else None,
            "since": [c.status_since for c in rep.same_petitioner],
        }


@pytest.fixture
def clerk(make_user):
    return make_user("clerk")


def person():
    return new_person("張" + secrets.choice("偉芳娜敏靜麗強磊軍洋"), "135")


def test_same_petitioner_counted_and_closest_named(inst, clerk, make_record, drain):
    p = person()
    first = make_record(by=clerk, received_at="2026-01-10T09:00", petitioner=p, body=UNRELATED)
    second = make_record(by=clerk, received_at="2026-02-10T09:00", petitioner=dict(p, id_number=""), body=UNRELATED)
    third = make_record(by=clerk, received_at="2026-03-10T09:00", petitioner=dict(p, phone=""), body=UNRELATED)
    new = make_record(by=clerk, received_at="2026-04-10T09:00", petitioner=p, body=COMPLAINT)
    later = make_record(by=clerk, received_at="2026-05-10T09:00", petitioner=p, body=UNRELATED)
    drain()
    rep = report_for(inst, new, clerk)
    assert rep["count"] == 3 and rep["by"] == "identity"
    assert [s for s, _ in rep["same"]] == [third, second, first]   # newest first; the later letter is not a candidate
    assert dict(rep["same"])[first] == ["id_number", "phone", "name"]
    assert rep["closest"] == third and all(rep["since"])
    assert later not in [s for s, _ in rep["similar"]]


def test_name_alone_is_used_only_without_id_or_phone(inst, clerk, make_record, drain):
    name = "歐陽" + secrets.token_hex(2)
    a = make_record(by=clerk, received_at="2026-01-10T09:00", petitioner={"name": name, "id_number": "", "phone": ""})
    b = make_record(by=clerk, received_at="2026-02-10T09:00", petitioner={"name": name, "id_number": "", "phone": ""})
    drain()
    rep = report_for(inst, b, clerk)
    assert rep["by"] == "name" and rep["same"] == [(a, ["name"])]


def test_similar_content_from_anyone(inst, clerk, make_record, drain):
    earlier = make_record(by=clerk, received_at="2026-01-10T09:00", petitioner=person(), body=COMPLAINT)
    unrelated = make_record(by=clerk, received_at="2026-01-11T09:00", petitioner=person(), body=UNRELATED)
    # the same complaint, retold in Simplified characters with a sentence added
    new = make_record(by=clerk, received_at="2026-03-01T09:00", petitioner=person(),
                      body="本人于二零二五年在某某建筑工程有限公司工地做钢筋工，老板以工程款未结为由一直拖欠我们"
                           "十二名工人的工资共计八万六千元，多次讨要无果。现在快过年了，请求尽快处理。")
    drain()
    rep = report_for(inst, new, clerk)
    similar = dict(rep["similar"])
    assert earlier in similar and similar[earlier] >= repeats.MIN_OVERLAP
    assert unrelated not in similar
    assert rep["count"] == 0 and rep["closest"] == earlier


def test_final_matter_suggests_storing(inst, clerk, make_record, drain):
    p = person()
    done = make_record(by=clerk, received_at="2026-01-10T09:00", petitioner=p, body=COMPLAINT)
    with inst.unit_of_work() as s:
        s.execute(update(Record).where(Record.serial == done).values(
            status="rereview_replied", rereview_replied_on=dt.date(2026, 3, 1)))
    new = make_record(by=clerk, received_at="2026-04-10T09:00", petitioner=p, body=COMPLAINT)
    drain()
    assert report_for(inst, new, clerk)["store"] == done


def test_candidates_are_limited_to_what_the_user_may_see(inst, make_user, make_record, drain):
    from records.reference.models import Office

    p = person()
    clerk = make_user("clerk")
    hidden = make_record(by=clerk, received_at="2026-01-10T09:00", petitioner=p, body=COMPLAINT)
    with inst.unit_of_work() as s:
        rsk = s.execute(select(Office.id).where(Office.code == "RSK")).scalar_one()
        s.execute(update(Record).where(Record.serial == hidden).values(office_id=rsk))
    leader = make_user("leader", oversees=("LDJC",))
    new = make_record(by=leader, received_at="2026-04-10T09:00", petitioner=p, body=COMPLAINT)
    drain()
    rep = report_for(inst, new, leader)
    assert rep["count"] == 0 and hidden not in [s for s, _ in rep["similar"]]
    assert report_for(inst, new, make_user("chief"))["count"] == 1


def mark(inst, serial, earlier, user):
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        got = repeats.mark_repeat(s, record, earlier, by=s.get(User, user.id), address="127.0.0.1")
        return got.serial if got else None


def test_mark_and_unmark_a_repeat(inst, clerk, make_record):
    earlier = make_record(by=clerk, received_at="2026-01-10T09:00")
    new = make_record(by=clerk, received_at="2026-02-10T09:00")
    assert mark(inst, new, earlier, clerk) == earlier
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == new)).scalar_one()
        assert record.repeat_of_id == s.execute(select(Record.id).where(Record.serial == earlier)).scalar_one()
        assert record.events[-1].kind == "marked_repeat"
        entry = s.execute(select(AuditEntry).where(AuditEntry.action == "record.mark_repeat")
                          .order_by(AuditEntry.id.desc())).scalars().first()
        assert entry.target == new and json.loads(entry.detail)["repeat_of"] == earlier
    assert mark(inst, new, None, clerk) is None
    with inst.unit_of_work() as s:
        assert s.execute(select(Record.repeat_of_id).where(Record.serial == new)).scalar_one() is None
    with pytest.raises(ValidationError):
        mark(inst, new, None, clerk)   # nothing to undo


def test_mark_repeat_refusals(inst, make_user, clerk, make_record):
    a = make_record(by=clerk, received_at="2026-01-10T09:00")
    b = make_record(by=clerk, received_at="2026-02-10T09:00")
    for target, earlier in ((b, b), (a, b), (b, "XF-1"), (b, "not a serial")):
        with pytest.raises(ValidationError):
            mark(inst, target, earlier, clerk)
    with pytest.raises(NotFound):
        mark(inst, b, "XF-1999-999999", clerk)
    with pytest.raises((AccessDenied, NotFound)):
        mark(inst, b, a, make_user("clerk"))          # not their letter
    with pytest.raises((AccessDenied, NotFound)):
        mark(inst, b, a, make_user("handler", office="SHBX"))
    # no cycles: a repeats b is impossible anyway (b is later); a chain stays a chain
    c = make_record(by=clerk, received_at="2026-03-10T09:00")
    assert mark(inst, b, a, clerk) == a and mark(inst, c, b, clerk) == b
