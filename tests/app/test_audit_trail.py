"""Issue 18: the audit trail on the web (/audit) for the inspector and the chief: filters by
person, action, record and date, pages, the chain check and its result, an audited CSV export."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from records import audit
from records.models import AuditEntry
from tests.conftest import login


def _client(app, user):
    web = app.test_client()
    login(web, user.username)
    return web


def _seed(inst, actor_name: str, n: int, action: str = "test.poke", target: str = "XF-1"):
    with inst.unit_of_work() as s:
        for _ in range(n):
            audit.record(s, action, actor_name=actor_name, target=target)


def test_filters_by_person_action_record_and_date(app, inst, make_user):
    inspector = make_user("inspector")
    _seed(inst, "alice", 2, "test.poke", "XF-1")
    _seed(inst, "bob", 1, "test.prod", "XF-2")
    web = _client(app, inspector)
    page = web.get("/audit?actor=bob").get_data(as_text=True)
    assert "<code>test.prod</code>" in page and "<code>test.poke</code>" not in page
    page = web.get("/audit?action=test.po").get_data(as_text=True)
    assert "<code>test.poke</code>" in page and "<code>test.prod</code>" not in page
    page = web.get("/audit?target=XF-2").get_data(as_text=True)
    assert "<code>test.prod</code>" in page and "<code>test.poke</code>" not in page
    today = dt.datetime.now(inst.settings.tz).date()
    assert "<code>test.poke</code>" in web.get(f"/audit?date_from={today}&date_to={today}").get_data(as_text=True)
    old = today - dt.timedelta(days=30)
    assert "<code>test.poke</code>" not in web.get(f"/audit?date_from={old}&date_to={old}").get_data(as_text=True)
    bad = web.get("/audit?date_from=2026-13-40")
    assert bad.status_code == 200


def test_pages(app, inst, make_user):
    chief = make_user("chief")
    _seed(inst, "alice", 60)
    web = _client(app, chief)
    first = web.get("/audit?action=test.poke").get_data(as_text=True)
    assert "page=2" in first
    second = web.get("/audit?action=test.poke&page=2").get_data(as_text=True)
    assert second.count("<code>test.poke</code>") >= 10


def test_chain_check_reports_intact_and_broken(app, inst, make_user):
    inspector = make_user("inspector")
    _seed(inst, "alice", 3)
    web = _client(app, inspector)
    ok = web.post("/audit/verify", data={})
    assert ok.status_code == 200 and 'role="status"' in ok.get_data(as_text=True)
    with inst.unit_of_work() as s:
        first = s.execute(select(AuditEntry).order_by(AuditEntry.id)).scalars().first()
        s.execute(update(AuditEntry).where(AuditEntry.id == first.id).values(target="forged"))
    broken = web.post("/audit/verify", data={}).get_data(as_text=True)
    assert 'role="alert"' in broken


def test_export_is_csv_and_audited(app, inst, make_user):
    chief = make_user("chief")
    _seed(inst, "carol", 2, "test.export")
    _seed(inst, "dave", 1, "test.prod")
    res = _client(app, chief).get("/audit.csv?actor=carol")
    assert res.status_code == 200 and res.mimetype == "text/csv"
    body = res.get_data(as_text=True)
    assert body.count("test.export") == 2 and "test.prod" not in body
    with inst.unit_of_work() as s:
        entry = s.execute(select(AuditEntry).where(AuditEntry.action == "audit.export")
                          .order_by(AuditEntry.id.desc())).scalars().first()
        assert entry.actor == chief.username and '"rows":2' in entry.detail


def test_refused_to_others(app, make_user):
    for role in ("clerk", "handler", "leader", "archivist", "admin"):
        web = _client(app, make_user(role))
        assert web.get("/audit").status_code == 403
        assert web.get("/audit.csv").status_code == 403
        assert web.post("/audit/verify", data={}).status_code == 403
