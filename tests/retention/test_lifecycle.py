"""Batches, re-keying, two-person approval, holds, exclusions, a run and its certificate."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, update

from records.cases import operations
from records.errors import AccessDenied, Conflict
from records.models import Record
from records.accounts.models import User
from retention import destroy, keystore
from retention import operations as ret
from retention.certificate import verify
from retention.models import Batch, BatchLetter, Certificate, DestroyedLetter

from .conftest import TODAY, approved_batch, set_status


def _batch(s, region, year) -> Batch:
    return s.execute(select(Batch).where(Batch.region_code == region, Batch.year == year)).scalar_one()


def test_stored_letter_is_rekeyed_under_its_batch_key_and_still_readable(inst, make_user, store_letters):
    clerk = make_user("clerk")
    serial = store_letters(clerk, 1, region="110102", year=2023)[0]
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        batch = _batch(s, "110102", 2023)
        assert record.key.wrapped_by == batch.key_ref == f"batch:{batch.id}.1"
        assert keystore.keystore_for(inst).exists(f"{batch.id}.1")
        key_file = inst.settings.keystore_dir / "batches" / f"{batch.id}.1.key"
        assert key_file.stat().st_mode & 0o777 == 0o600
    with inst.unit_of_work() as s:  # a fresh session: the data key is unwrapped through the batch key
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        view = operations.view(s, record, s.get(User, clerk.id))
        assert "來信內容" in view.content["body"]


def test_self_approval_is_refused(inst, make_user, store_letters):
    clerk = make_user("clerk")
    both = make_user("archivist", "leader")
    store_letters(clerk, 2, region="110105", year=2022)
    with inst.unit_of_work() as s:
        me = s.get(User, both.id)
        batch = _batch(s, "110105", 2022)
        ret.seal(s, batch, by=me, today=TODAY)
        ret.propose(s, batch, by=me)
    with inst.unit_of_work() as s:
        with pytest.raises(AccessDenied):
            ret.approve(s, _batch(s, "110105", 2022), by=s.get(User, both.id))
    archivist = make_user("archivist")
    with inst.unit_of_work() as s:
        assert _batch(s, "110105", 2022).state == "proposed"
        with pytest.raises(AccessDenied):  # an archivist holds no approval permission at all
            ret.approve(s, _batch(s, "110105", 2022), by=s.get(User, archivist.id))


def test_batch_cannot_be_sealed_before_its_year_closes(inst, make_user, store_letters):
    clerk, archivist = make_user("clerk"), make_user("archivist")
    store_letters(clerk, 1, region="110106", year=2025)
    import datetime as dt
    with inst.unit_of_work() as s:
        with pytest.raises(Conflict):
            ret.seal(s, _batch(s, "110106", 2025), by=s.get(User, archivist.id), today=dt.date(2025, 12, 31))


def test_run_destroys_listed_letters_keeps_held_excluded_and_others(inst, make_user, make_record, store_letters):
    clerk, archivist = make_user("clerk"), make_user("archivist")
    leader, other_leader = make_user("leader"), make_user("leader")
    region, year = "110107", 2021
    stored = store_letters(clerk, 6, region=region, year=year)
    # letters of the same region and year that are not stored are never in the batch
    registered = make_record(clerk, region=region, received_at=f"{year}-05-05T09:00")
    with inst.unit_of_work() as s:
        batch = _batch(s, region, year)
        ret.seal(s, batch, by=s.get(User, archivist.id), today=TODAY)
        listed = ret.propose(s, batch, by=s.get(User, archivist.id))
        assert sorted(b.serial for b in listed) == sorted(stored)
        ret.exclude(s, batch, stored[1], by=s.get(User, leader.id), reason="still useful for a statistic")
        ret.approve(s, batch, by=s.get(User, leader.id))
        ret.hold(s, by=s.get(User, other_leader.id), reason="court request", serial=stored[0])
        h2 = ret.hold(s, by=s.get(User, leader.id), reason="second hold", serial=stored[0])
        batch_id = batch.id
    with inst.unit_of_work() as s:  # lifting one of two holds does not free the letter
        ret.lift(s, h2.id, by=s.get(User, leader.id), reason="done")
    with inst.unit_of_work() as s:
        plan = destroy.plan(s, batch_id=batch_id, today=TODAY)
        assert sorted(plan[0].letters) == sorted(stored[2:]) and plan[0].skipped_held == [stored[0]]
        assert s.execute(select(func.count()).select_from(Record).where(Record.serial.in_(stored))).scalar_one() == 6

    reports = destroy.run(inst, batch_id=batch_id, by_id=leader.id, today=TODAY)
    assert len(reports) == 1 and reports[0].residue_clean, reports
    with inst.unit_of_work() as s:
        alive = set(s.execute(select(Record.serial).where(Record.serial.in_(stored + [registered]))).scalars())
        assert alive == {stored[0], stored[1], registered}
        gone = set(s.execute(select(DestroyedLetter.serial)).scalars())
        assert set(stored[2:]) <= gone and not gone & alive
        batch = s.get(Batch, batch_id)
        assert batch.state == "certified" and batch.key_generation == 2
        # the survivors moved to the new key; the old one is gone
        for serial in (stored[0], stored[1]):
            record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
            assert record.key.wrapped_by == f"batch:{batch_id}.2"
            assert "來信內容" in operations.view(s, record, s.get(User, clerk.id)).content["body"]
        reg = s.execute(select(Record).where(Record.serial == registered)).scalar_one()
        assert reg.status == "registered" and reg.key.wrapped_by.startswith("master:")
        assert not keystore.keystore_for(inst).exists(f"{batch_id}.1")
        states = dict(s.execute(select(BatchLetter.serial, BatchLetter.state).where(BatchLetter.batch_id == batch_id)).all())
        assert states[stored[0]] == "member" and states[stored[1]] == "excluded"
        cert = s.execute(select(Certificate).where(Certificate.batch_id == batch_id)).scalar_one()
        body = json.loads(cert.body)
        assert body["total"] == 4 and body["approved_by"]["username"] == leader.username
        assert body["proposed_by"]["username"] == archivist.username
        assert verify(body, s, inst).ok, verify(body, s, inst).problems
        # one serial altered in the manifest: verification fails, offline and against the instance
        body["manifest"][0]["serial"] = stored[0]
        assert not verify(body).ok
        assert any("manifest" in p for p in verify(body, s, inst).problems)
        # a second run finds nothing to do
    again = destroy.run(inst, batch_id=batch_id, today=TODAY)
    assert all(not r.letters for r in again)


def test_returning_a_letter_from_storage_takes_it_out_of_its_batch(inst, make_user, store_letters):
    clerk, archivist = make_user("clerk"), make_user("archivist")
    serials = store_letters(clerk, 2, region="110109", year=2020)
    set_status(inst, serials[0], "accepted")
    with inst.unit_of_work() as s:
        batch = _batch(s, "110109", 2020)
        ret.seal(s, batch, by=s.get(User, archivist.id), today=TODAY)
        listed = ret.propose(s, batch, by=s.get(User, archivist.id))
        assert [b.serial for b in listed] == [serials[1]]
        record = s.execute(select(Record).where(Record.serial == serials[0])).scalar_one()
        assert record.key.wrapped_by.startswith("master:")


def test_a_listed_letter_no_longer_stored_when_the_run_starts_is_neither_planned_nor_destroyed(
        inst, make_user, store_letters, monkeypatch):
    """Each letter of an approved list is checked to be still stored when the run starts
    (by id, a step of ``destroy.CHUNK`` at a time): one that left storage since, even with
    no hook having taken it out of the batch, stays, and only the others are destroyed."""
    monkeypatch.setattr(destroy, "CHUNK", 2)
    clerk, archivist, leader = make_user("clerk"), make_user("archivist"), make_user("leader")
    serials = store_letters(clerk, 5, region="110112", year=2020)
    batch_id = approved_batch(inst, archivist, leader, "110112", 2020)
    with inst.unit_of_work() as s:   # behind the workflow's back: its hooks do not run
        s.execute(update(Record).where(Record.serial == serials[2]).values(status="accepted", stored_reason=None))
    with inst.unit_of_work() as s:
        assert destroy.plan(s, batch_id=batch_id, today=TODAY)[0].letters == sorted(serials[:2] + serials[3:])
    reports = destroy.run(inst, batch_id=batch_id, today=TODAY)
    assert reports[0].residue_clean and sorted(reports[0].letters) == sorted(serials[:2] + serials[3:])
    with inst.unit_of_work() as s:
        assert s.execute(select(Record.serial).where(Record.serial.in_(serials))).scalars().all() == [serials[2]]


def test_dry_run_changes_nothing_and_batch_hold_blocks(inst, make_user, store_letters):
    clerk, archivist, leader = make_user("clerk"), make_user("archivist"), make_user("leader")
    serials = store_letters(clerk, 3, region="110111", year=2020)
    with inst.unit_of_work() as s:
        batch = _batch(s, "110111", 2020)
        ret.seal(s, batch, by=s.get(User, archivist.id), today=TODAY)
        ret.propose(s, batch, by=s.get(User, archivist.id))
        ret.approve(s, batch, by=s.get(User, leader.id))
        ret.hold(s, by=s.get(User, leader.id), reason="audit of the region", batch=batch)
        batch_id = batch.id
    with inst.unit_of_work() as s:
        plan = destroy.plan(s, batch_id=batch_id, today=TODAY)
        assert plan[0].letters == [] and sorted(plan[0].skipped_held) == sorted(serials)
    reports = destroy.run(inst, batch_id=batch_id, today=TODAY)
    assert reports[0].letters == []
    with inst.unit_of_work() as s:
        assert s.execute(select(func.count()).select_from(Record).where(Record.serial.in_(serials))).scalar_one() == 3
        assert s.get(Batch, batch_id).state == "approved"
