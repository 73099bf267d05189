"""Access inside the query (principals per document) and on every hit."""
import pytest
from sqlalchemy import select

from records import policy
from records.errors import AccessDenied
from records.reference.models import Office
from records.models import OutboxEntry, Record, RecordExclusion
from records.accounts.models import User
from search import query

from .conftest import word


def run(inst, user, q, **kw):
    with inst.unit_of_work() as s:
        return query.search(s, s.get(User, user.id), q, **kw)


def move(inst, serial, office_code, *, outbox=True):
    """Hand a record to another office (as an assignment does, with its outbox row)."""
    with inst.unit_of_work() as s:
        office = s.execute(select(Office).where(Office.code == office_code)).scalar_one()
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        record.office_id = office.id
        if outbox:
            s.add(OutboxEntry(record_uid=record.uid, op="index"))


@pytest.fixture
def letter(inst, make_user, make_record, drain):
    """A letter held by LDJC, with a phrase of its own."""
    w = word()
    registrar = make_user("clerk")
    serial = make_record(by=registrar, subject="來信", body=f"公司拖欠工資三個月 {w}")
    move(inst, serial, "LDJC")
    drain()
    return {"serial": serial, "phrase": f'"公司拖欠工資三個月" {w}', "registrar": registrar}


def test_other_office_gets_no_hits_and_no_facet_counts(inst, make_user, letter):
    other = make_user("handler", office="SHBX")
    r = run(inst, other, letter["phrase"])
    assert r.total == 0 and r.hits == []
    assert all(counts == {} for counts in r.facets.values())
    r = run(inst, other, "", params={"region": "110108"})   # filters only: still nothing of ours
    assert letter["serial"] not in [h.record.serial for h in r.hits]


@pytest.mark.parametrize("role,office,oversees,sees", [
    ("handler", "LDJC", (), True),
    ("handler", "SHBX", (), False),
    ("leader", None, ("LDJC",), True),
    ("leader", None, ("SHBX",), False),
    ("chief", None, (), True),
    ("clerk", "XFB", (), False),     # a clerk who did not register it
])
def test_who_finds_the_letter(inst, make_user, letter, role, office, oversees, sees):
    user = make_user(role, office=office, oversees=oversees)
    r = run(inst, user, letter["phrase"])
    assert ([h.record.serial for h in r.hits] == [letter["serial"]]) is sees
    assert (r.facets["status"] != {}) is sees


def test_the_registrar_finds_their_own(inst, letter):
    assert [h.record.serial for h in run(inst, letter["registrar"], letter["phrase"]).hits] == [letter["serial"]]


def test_roles_without_content_may_not_search(inst, make_user):
    for role in ("archivist", "inspector", "admin"):
        user = make_user(role)
        with pytest.raises(AccessDenied):
            run(inst, user, "拖欠")


def test_principals_follow_the_policy_table(inst, make_user, letter):
    """The index's principals give exactly the answers of policy.can, for every role."""
    users = [make_user("handler", office="LDJC"), make_user("handler", office="SHBX"),
             make_user("leader", oversees=("LDJC",)), make_user("leader", oversees=("RSK",)),
             make_user("chief"), make_user("clerk"), letter["registrar"], make_user("archivist")]
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == letter["serial"])).scalar_one()
        principals = policy.record_principals(record)
        for u in users:
            u = s.get(User, u.id)
            assert bool(policy.user_principals(u) & principals) == policy.can(u, policy.VIEW_CONTENT, record), u.roles


def test_an_excluded_user_finds_nothing_even_before_the_index_knows(inst, make_user, make_record, drain):
    w = word()
    registrar = make_user("clerk")
    handler = make_user("handler", office="LDJC")
    serial = make_record(by=registrar, subject="來信", body=f"反映{w}科長的問題")
    move(inst, serial, "LDJC")
    drain()
    assert run(inst, handler, w).total == 1
    with inst.unit_of_work() as s:   # named as complained about; no outbox row yet
        rid = s.execute(select(Record.id).where(Record.serial == serial)).scalar_one()
        s.add(RecordExclusion(record_id=rid, user_id=handler.id))
    r = run(inst, handler, w)
    assert r.total == 0 and all(c == {} for c in r.facets.values())
    with inst.unit_of_work() as s:
        s.add(OutboxEntry(record_uid=s.execute(select(Record.uid).where(Record.id == rid)).scalar_one(), op="index"))
    drain()
    assert run(inst, handler, w).total == 0


def test_every_hit_is_checked_again(inst, make_user, make_record, drain, caplog):
    """If the index is behind (a move without its outbox row), the hit is still refused."""
    w = word()
    registrar = make_user("clerk")
    handler = make_user("handler", office="LDJC")
    serial = make_record(by=registrar, subject="來信", body=f"重新檢查 {w}")
    move(inst, serial, "LDJC")
    drain()
    move(inst, serial, "SHBX", outbox=False)
    r = run(inst, handler, w)
    assert r.hits == []
    assert "refused on re-check" in caplog.text and w not in caplog.text
