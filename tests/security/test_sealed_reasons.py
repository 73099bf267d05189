"""Issue 15, item 6: the reason given for an identity look-up ("王小明又來信" would put a name
at rest) is sealed in the audit table, and opened for the inspector and the chief through
the audit trail (the opening itself audited)."""
from __future__ import annotations

import json

from sqlalchemy import select, text

from records import audit
from records.accounts.models import User
from records.models import AuditEntry
from search import lookups
from tests.conftest import login, new_person

REASON = "王小明又來信，核實其此前來信情況"


def test_the_reason_is_not_stored_in_the_clear(inst, make_user, make_record):
    leader, inspector, clerk = make_user("leader"), make_user("inspector"), make_user("clerk")
    person = new_person("王小明")
    make_record(by=clerk, petitioner=person)
    with inst.unit_of_work() as s:
        lookups.lookup(s, s.get(User, leader.id), "id_number", person["id_number"], REASON)
    with inst.unit_of_work() as s:
        raw = s.execute(text("SELECT detail FROM audit_entries WHERE action = 'identity.lookup' "
                             "ORDER BY id DESC")).scalars().first()
        assert "王小明" not in raw and REASON not in raw and "reason_sealed" in raw
        entry = s.execute(select(AuditEntry).where(AuditEntry.action == "identity.lookup")
                          .order_by(AuditEntry.id.desc())).scalars().first()
        assert audit.readable_detail(s, entry, s.get(User, inspector.id))["reason"] == REASON
        assert "reason" not in audit.readable_detail(s, entry, s.get(User, clerk.id))
        entry_id = entry.id
    with inst.unit_of_work() as s:
        opened = s.execute(select(AuditEntry).where(AuditEntry.action == "audit.open_sealed")).scalars().all()
        assert any(e.target == str(entry_id) and e.actor_id == inspector.id for e in opened)
        assert audit.verify(s).ok


def test_the_audit_trail_page_shows_it_to_the_chief_only(app, inst, make_user, make_record):
    leader, chief, admin = make_user("leader"), make_user("chief"), make_user("admin")
    person = new_person("王小明")
    make_record(by=make_user("clerk"), petitioner=person)
    with inst.unit_of_work() as s:
        lookups.lookup(s, s.get(User, leader.id), "phone", person["phone"], REASON)
    web = app.test_client()
    login(web, chief.username)
    page = web.get("/audit?action=identity.lookup").get_data(as_text=True)
    assert REASON in page
    other = app.test_client()
    login(other, admin.username)
    assert other.get("/audit").status_code == 403
    with inst.unit_of_work() as s:
        details = [json.loads(d) for d in s.execute(select(AuditEntry.detail)).scalars()]
        assert all(REASON not in json.dumps(d, ensure_ascii=False) for d in details)
