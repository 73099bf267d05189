"""Sealing a batch larger than one step of re-keying (``retention.operations.CHUNK``)."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update

from records import audit
from records.cases import operations
from records.models import AuditEntry, Record, RecordKey
from records.accounts.models import User
from records.reporting import audit_trail
from retention import operations as ret
from retention.models import Batch, BatchLetter

from .conftest import REASONS, TODAY


def test_sealing_a_batch_of_several_chunks_rekeys_every_letter_and_all_open(inst, make_user, make_record,
                                                                             monkeypatch):
    monkeypatch.setattr(ret, "CHUNK", 3)  # 8 letters: three steps, the last one partial
    clerk, archivist = make_user("clerk"), make_user("archivist")
    region, year = "110108", 2022
    serials = [make_record(clerk, region=region, received_at=f"{year}-04-0{1 + i}T10:00",
                           body=f"來信內容第{i}封，請求協調。") for i in range(8)]
    kept = make_record(clerk, region=region, received_at=f"{year}-05-05T09:00")  # not stored: stays out
    with inst.unit_of_work() as s:  # stored outside the workflow: no hook ran, still under the master key
        s.execute(update(Record).where(Record.serial.in_(serials)).values(status="stored",
                                                                          stored_reason=REASONS[0]))
    with inst.unit_of_work() as s:
        batch = ret.batch_of(s, region, year)
        ret.seal(s, batch, by=s.get(User, archivist.id), today=TODAY)
        assert batch.state == "sealed"  # the caller's batch stays in the session, and is written
        key_ref = batch.key_ref
    with inst.unit_of_work() as s:
        batch = s.execute(select(Batch).where(Batch.region_code == region, Batch.year == year)).scalar_one()
        assert batch.state == "sealed"
        refs = dict(s.execute(select(Record.serial, RecordKey.wrapped_by).join(RecordKey)
                              .where(Record.serial.in_([*serials, kept]))).all())
        assert {refs[x] for x in serials} == {key_ref} and refs[kept].startswith("master:")
        members = s.execute(select(BatchLetter.serial).where(BatchLetter.batch_id == batch.id,
                                                             BatchLetter.state == "member")).scalars().all()
        assert sorted(members) == sorted(serials)
        stores = s.execute(select(func.count()).select_from(AuditEntry)
                           .where(AuditEntry.action == "retention.store")).scalar_one()
        assert stores == len(serials)
        seal = s.execute(select(AuditEntry).where(AuditEntry.action == "retention.seal")).scalar_one()
        assert '"joined":8' in seal.detail
        assert audit.verify(s).ok
    with inst.unit_of_work() as s:  # a fresh session: every data key is unwrapped through the batch key
        user = s.get(User, clerk.id)
        for i, serial in enumerate(serials):
            record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
            assert f"來信內容第{i}封" in operations.view(s, record, user).content["body"]
    with inst.unit_of_work() as s:  # letters that left the stored state leave the batch, across chunks too
        s.execute(update(Record).where(Record.serial.in_(serials[:5])).values(status="registered",
                                                                              stored_reason=None))
    with inst.unit_of_work() as s:
        batch = s.execute(select(Batch).where(Batch.region_code == region, Batch.year == year)).scalar_one()
        assert ret.sync_batch(s, batch) == {"joined": 0, "left": 5, "rekeyed": 0}
    with inst.unit_of_work() as s:
        refs = dict(s.execute(select(Record.serial, RecordKey.wrapped_by).join(RecordKey)
                              .where(Record.serial.in_(serials))).all())
        assert all(refs[x].startswith("master:") for x in serials[:5])
        assert {refs[x] for x in serials[5:]} == {key_ref}
        user = s.get(User, clerk.id)
        for i, serial in enumerate(serials):
            record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
            assert f"來信內容第{i}封" in operations.view(s, record, user).content["body"]


def test_a_sealed_chunk_leaves_one_chained_entry_per_letter_each_found_by_its_serial(inst, make_user, make_record,
                                                                                   monkeypatch):
    """Sealing writes a step's ``retention.store`` entries with one INSERT (``audit.record_many``):
    still one entry per letter, in the chain between the entries around it, each found by the
    audit trail's record filter."""
    monkeypatch.setattr(ret, "CHUNK", 4)
    clerk, archivist, inspector = make_user("clerk"), make_user("archivist"), make_user("inspector")
    region, year = "110105", 2021
    serials = [make_record(clerk, region=region, received_at=f"{year}-06-1{i}T10:00") for i in range(6)]
    with inst.unit_of_work() as s:
        s.execute(update(Record).where(Record.serial.in_(serials)).values(status="stored", stored_reason=REASONS[1]))
    with inst.unit_of_work() as s:
        first = audit.record(s, "test.before", target="x").id
        batch = ret.batch_of(s, region, year)
        ret.seal(s, batch, by=s.get(User, archivist.id), today=TODAY)
        audit.record(s, "test.after", target="y")
        batch_id = batch.id
    with inst.unit_of_work() as s:
        assert audit.verify(s).ok
        entries = s.execute(select(AuditEntry).where(AuditEntry.id >= first, AuditEntry.action.in_(
            ["test.before", "retention.store", "retention.seal", "test.after"])).order_by(AuditEntry.id)).scalars().all()
        assert [e.action for e in entries] == ["test.before", *["retention.store"] * 6, "retention.seal", "test.after"]
        assert [e.id for e in entries] == list(range(entries[0].id, entries[0].id + 9))  # no gap in the chain
        assert all(b.prev_hash == a.hash for a, b in zip(entries, entries[1:]))
        reader = s.get(User, inspector.id)
        for serial in serials:
            found = audit_trail.page_of(s, reader, audit_trail.TrailFilters(target=serial), ZoneInfo("UTC"))
            stores = [(e, d) for e, d in found.rows if e.action == "retention.store"]
            assert len(stores) == 1, serial
            entry, detail = stores[0]
            assert detail["batch"] == batch_id and detail["reason"] == REASONS[1] and detail["key"].startswith("batch:")
            assert entry.actor_id == archivist.id
