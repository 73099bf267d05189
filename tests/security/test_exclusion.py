"""Accused-party exclusion (被反映人, P1-6): staff a letter complains about are refused everything
on it — page, API, attachments, versions, ledger line — whatever their role, even after a
promotion; every attempt is on the audit trail; they cannot lift the exclusion themselves."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select, update

from records.cases import operations
from records import policy
from records.errors import NotFound, ValidationError
from records.models import AuditEntry, Record, RecordExclusion
from records.accounts.models import User
from records.cases.operations import Upload
from tests.conftest import letter_data, login


SUBJECT = "反映某科員索要好處費問題"
NAME = "歐陽守秘"


def _same(body: bytes) -> bytes:
    """The page without its CSRF token (it carries a timestamp)."""
    return re.sub(rb'name="csrf_token" value="[^"]*"', b"", body)


def _promote(inst, user, roles: str):
    with inst.unit_of_work() as s:
        s.execute(update(User).where(User.id == user.id).values(roles=roles))


def _refusals(inst, user_id: int, serial: str) -> int:
    with inst.unit_of_work() as s:
        return len(s.execute(select(AuditEntry).where(
            AuditEntry.action == "record.refused", AuditEntry.actor_id == user_id,
            AuditEntry.target == serial)).scalars().all())


@pytest.fixture
def accused_case(inst, make_user):
    clerk = make_user("clerk")
    accused = make_user("handler", office="XFB")
    with inst.unit_of_work() as s:
        data = letter_data(category="staff_conduct", accused=[accused.username], subject=SUBJECT,
                           petitioner={"name": NAME, "id_number": "", "phone": "13900001111"})
        record = operations.register(s, data,
                                     by=s.get(User, clerk.id), uploads=[Upload("scan.txt", "欠條".encode())])
        serial, att = record.serial, record.attachments[0].uid
    return clerk, accused, serial, att


def test_registration_stores_the_exclusion_and_the_policy_refuses(inst, accused_case):
    clerk, accused, serial, _ = accused_case
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        assert [x.user_id for x in record.excluded_users] == [accused.id]
        user = s.get(User, accused.id)
        for perm in (policy.VIEW_LEDGER, policy.VIEW_CONTENT, policy.VIEW_IDENTITY, policy.CORRECT_RECORD,
                     policy.EXCLUDE_STAFF, policy.LIFT_EXCLUSION):
            assert not policy.can(user, perm, record)
        assert policy.can(s.get(User, clerk.id), policy.VIEW_CONTENT, record)


@pytest.mark.parametrize("roles", ["handler", "leader", "chief", "chief leader clerk"])
def test_accused_is_refused_on_web_and_api_whatever_the_role(app, inst, client, accused_case, api_token, roles):
    _, accused, serial, att = accused_case
    _promote(inst, accused, roles)
    app.config["XINFANG_SECOND_FACTOR_ROLES"] = ()
    before = _refusals(inst, accused.id, serial)
    assert login(client, accused.username).status_code == 302
    pages = [f"/records/{serial}", f"/records/{serial}/edit", f"/records/{serial}/attachments/{att}",
             f"/records/{serial}/versions/1"]
    for path in pages:
        r = client.get(path)
        assert r.status_code == 404, path
        missing = client.get(path.replace(serial, "XF-2026-999999"))
        assert _same(r.get_data().replace(serial.encode(), b"XF-2026-999999")) == _same(missing.get_data()), \
            "refusal must look exactly like 'not found'"
    ledger = client.get("/ledger").get_data(as_text=True)
    assert serial not in ledger
    token = api_token(accused)
    h = {"Authorization": f"Bearer {token}"}
    r = client.get(f"/api/v1/records/{serial}", headers=h)
    assert r.status_code == 404 and r.get_json() == client.get("/api/v1/records/XF-2026-999999", headers=h).get_json()
    assert client.get(f"/api/v1/records/{serial}/attachments/{att}", headers=h).status_code == 404
    listing = client.get("/api/v1/records?per_page=200", headers=h).get_json()
    assert serial not in {i["serial"] for i in listing["items"]}
    # every attempt to open it is on the audit trail (the entry survives the request's rollback)
    assert _refusals(inst, accused.id, serial) - before >= len(pages) - 0 + 2


def test_identity_never_reaches_the_accused(app, inst, client, accused_case):
    _, accused, serial, _ = accused_case
    _promote(inst, accused, "chief")
    app.config["XINFANG_SECOND_FACTOR_ROLES"] = ()
    login(client, accused.username)
    for path in (f"/records/{serial}", "/ledger", "/ledger?region=110108"):
        body = client.get(path).get_data(as_text=True)
        assert "王小明" not in body and "110108199001011231" not in body and "13812345678" not in body
        assert "拖欠工資" not in body


def test_accused_cannot_lift_or_change_the_exclusion(inst, make_user, accused_case):
    _, accused, serial, _ = accused_case
    _promote(inst, accused, "chief")
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        me = s.get(User, accused.id)
        with pytest.raises(NotFound):
            operations.lift_exclusion(s, record, me.username, by=me, reason="not me")
        with pytest.raises(NotFound):
            operations.accused_of(s, record, me)
    with inst.unit_of_work() as s:
        assert s.get(RecordExclusion, (s.execute(select(Record.id).where(Record.serial == serial)).scalar_one(),
                                       accused.id)) is not None


def test_a_leader_lifts_with_a_reason_and_it_is_audited(inst, make_user, accused_case):
    _, accused, serial, _ = accused_case
    leader = make_user("leader")
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        lead = s.get(User, leader.id)
        assert [u.username for u in operations.accused_of(s, record, lead)] == [accused.username]
        with pytest.raises(ValidationError):
            operations.lift_exclusion(s, record, accused.username, by=lead, reason="")
        operations.lift_exclusion(s, record, accused.username, by=lead, reason="Wrong person named at intake.")
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        assert record.excluded_users == []
        entry = s.execute(select(AuditEntry).where(AuditEntry.action == "record.exclusion_lift",
                                                   AuditEntry.target == serial)).scalar_one()
        assert "Wrong person" not in entry.detail


def test_registration_rules(inst, make_user):
    clerk = make_user("clerk")
    other = make_user("clerk")
    with inst.unit_of_work() as s:
        me = s.get(User, clerk.id)
        with pytest.raises(ValidationError) as exc:
            operations.register(s, letter_data(accused=["no-such-user-x"]), by=me)
        assert "accused" in exc.value.fields
        with pytest.raises(ValidationError) as exc:
            operations.register(s, letter_data(accused=[clerk.username]), by=me)
        assert "accused" in exc.value.fields
        with pytest.raises(ValidationError) as exc:
            operations.register(s, letter_data(accused=[other.username], first_responder=other.username), by=me)
        assert "first_responder" in exc.value.fields
        for bad in (42, [1, 2], "UPPER", ["a"] * 0 + ["x" * 70], [f"user{i}" for i in range(30)]):
            with pytest.raises(ValidationError) as exc:
                operations.register(s, letter_data(accused=bad), by=me)
            assert "accused" in exc.value.fields
        s.rollback()


def test_web_form_accepts_accused_user_names(app, inst, client, make_user):
    clerk = make_user("clerk")
    a, b = make_user("handler"), make_user("leader")
    login(client, clerk.username)
    form = {"confirm_old_received_date": "y", "channel": "letter", "received_at": "2026-03-02T10:00", "region": "110108",
            "category": "staff_conduct", "people_count": "1", "subject": "反映工作人員態度問題",
            "body": "某工作人員態度惡劣。", "accused": f"{a.username}、 {b.username}"}
    r = client.post("/records/new", data=form)
    assert r.status_code == 302, r.get_data(as_text=True)[:500]
    serial = r.headers["Location"].rsplit("/", 1)[-1]
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        assert {x.user_id for x in record.excluded_users} == {a.id, b.id}
    r = client.post("/records/new", data={**form, "accused": "nobody-here"})
    assert r.status_code == 422
