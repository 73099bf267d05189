"""Sealing a batch larger than one step of re-keying (``retention.operations.CHUNK``)."""
from __future__ import annotations

from sqlalchemy import func, select, update

from records import audit
from records.cases import operations
from records.models import AuditEntry, Record, RecordKey
from records.accounts.models import User
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
