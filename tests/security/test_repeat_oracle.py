"""Issue 15, item 1: the repeat-letter panel is not an identity oracle. A clerk who registers
a letter with someone's ID number learns how many earlier letters that person wrote, never
which ones outside its own; content similarity only among letters it may read; every check
is audited with the matched serials and counts toward the look-up quota; a correction of
the identity runs the check again under the same rules."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from records.accounts.models import User
from records.cases import operations
from records.models import AuditEntry, Record
from search import indexer, lookups, repeats
from tests.conftest import login, new_person

SECRET_TEXT = ("本人舉報局機關某處長在科技項目評審中收受申報單位好處費五萬元，並指使評審專家"
               "抬高該單位評分，相關轉賬記錄和聊天截圖已保存，請紀檢部門嚴肅查處。")


def _record(s, serial):
    return s.execute(select(Record).where(Record.serial == serial)).scalar_one()


def _report(inst, serial, user, **kw):
    with inst.unit_of_work() as s:
        rep = repeats.candidates(s, _record(s, serial), s.get(User, user.id), **kw)
        return {"count": rep.count_before, "named": [c.record.serial for c in rep.same_petitioner],
                "similar": [c.record.serial for c in rep.similar], "not_shown": rep.not_shown,
                "limited": rep.limited}


@pytest.fixture
def victim_letter(inst, make_user, make_record):
    """A letter of one petitioner, registered by another clerk: not the attacker's to read."""
    owner = make_user("clerk")
    person = new_person("李秘密")
    serial = make_record(by=owner, received_at="2026-01-05T09:00", petitioner=person, body=SECRET_TEXT)
    indexer.drain(inst)
    return serial, person


def test_a_clerk_learns_the_count_not_the_letters(app, inst, make_user, make_record, victim_letter):
    old, person = victim_letter
    attacker = make_user("clerk")
    probe = make_record(by=attacker, received_at="2026-03-01T09:00",
                        petitioner={"name": "某人", "id_number": person["id_number"], "phone": ""}, body="詢問科技成果轉化政策。")
    indexer.drain(inst)
    rep = _report(inst, probe, attacker)
    assert rep["count"] == 1 and rep["named"] == [] and rep["not_shown"] == 1
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    login(client, attacker.username)
    page = client.get(f"/records/{probe}").get_data(as_text=True)
    assert f"/records/{old}" not in page and f">{old}<" not in page and "same ID number" not in page
    assert "wrote 1 time before" in page and "not named here" in page


def test_similar_content_only_among_readable_letters(inst, make_user, make_record, victim_letter):
    old, _person = victim_letter
    attacker = make_user("clerk")
    guess = make_record(by=attacker, received_at="2026-03-02T09:00", petitioner=new_person("路人"), body=SECRET_TEXT)
    indexer.drain(inst)
    assert old not in _report(inst, guess, attacker)["similar"], "a pasted guess confirms nothing"
    chief = make_user("chief")
    assert old in _report(inst, guess, chief)["similar"], "the chief may read it, and is told"


def test_every_check_is_audited_with_the_matched_serials(inst, make_user, make_record, victim_letter):
    old, person = victim_letter
    leader = make_user("leader")
    probe = make_record(by=leader, received_at="2026-03-03T09:00", petitioner={"name": "某", "phone": person["phone"]})
    indexer.drain(inst)
    rep = _report(inst, probe, leader)
    assert rep["named"] == [old], "a leader sees the identity of intake letters, as a look-up would show"
    with inst.unit_of_work() as s:
        entry = s.execute(select(AuditEntry).where(AuditEntry.action == "repeat.check", AuditEntry.actor_id == leader.id,
                                                   AuditEntry.target == probe)).scalars().one()
        detail = json.loads(entry.detail)
        assert detail["matched"] == [old] and detail["count"] == 1
        assert lookups.used_this_hour(s, s.get(User, leader.id)) == 1


def test_checks_count_toward_the_lookup_quota(inst, make_user, make_record, monkeypatch):
    monkeypatch.setattr(lookups, "LIMIT_PER_HOUR", 2)
    clerk = make_user("clerk")
    serials = [make_record(by=clerk, received_at=f"2026-04-0{i}T09:00", petitioner=new_person("甲")) for i in (1, 2, 3)]
    indexer.drain(inst)
    assert not _report(inst, serials[0], clerk)["limited"]
    assert not _report(inst, serials[0], clerk)["limited"], "the same version again is not a new check"
    assert not _report(inst, serials[1], clerk)["limited"]
    assert _report(inst, serials[2], clerk)["limited"], "the third distinct check of the hour is refused"
    with inst.unit_of_work() as s:
        assert s.execute(select(AuditEntry).where(AuditEntry.action == "repeat.check_refused",
                                                  AuditEntry.actor_id == clerk.id)).scalars().first() is not None


def test_editing_the_identity_runs_the_check_again(inst, make_user, make_record, victim_letter):
    old, person = victim_letter
    clerk = make_user("clerk")
    probe = make_record(by=clerk, received_at="2026-03-04T09:00", petitioner=new_person("乙"))
    indexer.drain(inst)
    assert _report(inst, probe, clerk)["count"] == 0
    with inst.unit_of_work() as s:
        operations.correct(s, _record(s, probe), {"petitioner": {"id_number": person["id_number"]}},
                           by=s.get(User, clerk.id), reason="登記錯誤")
    indexer.drain(inst)
    rep = _report(inst, probe, clerk)
    assert rep["count"] == 1 and rep["named"] == [] and rep["not_shown"] == 1
    with inst.unit_of_work() as s:
        versions = [json.loads(e.detail)["version"] for e in s.execute(
            select(AuditEntry).where(AuditEntry.action == "repeat.check", AuditEntry.target == probe)).scalars()]
        assert len(set(versions)) == 2
