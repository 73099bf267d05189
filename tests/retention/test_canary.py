"""Nothing of a destroyed letter survives anywhere under the instance folder, and a copy of
the database taken before the run cannot open it, even with the master key."""
from __future__ import annotations

import shutil

import pytest
from sqlalchemy import select

from records import operations
from records.config import Settings
from records.errors import CryptoError
from records.instance import Instance
from records.models import Attachment, Record, User
from records.operations import Upload
from retention import destroy
from retention import operations as ret
from retention.models import Batch

from .conftest import TODAY

CANARY = "金絲雀CANARY7Q"


def _all_bytes(home):
    for p in home.rglob("*"):
        if p.is_file() and not p.is_symlink():
            yield p, p.read_bytes()


def _read_body(inst, serial, user_id):
    with inst.unit_of_work() as s:
        record = s.execute(select(Record).where(Record.serial == serial)).scalar_one()
        return operations.view(s, record, s.get(User, user_id)).content["body"]


def test_canaries_and_ciphertext_gone_and_old_copy_cannot_decrypt(inst, settings, make_user, store_letters,
                                                                    tmp_path):
    clerk, archivist, leader = make_user("clerk"), make_user("archivist"), make_user("leader")
    scan = Upload("scan.txt", f"掃描件 {CANARY}-blob".encode())
    serials = store_letters(clerk, 5, region="110112", year=2020, canary=CANARY, uploads=[scan])
    with inst.unit_of_work() as s:
        records = s.execute(select(Record).where(Record.serial.in_(serials))).scalars().all()
        fragments = [r.document_sealed[20:52] for r in records] + [r.key.wrapped_key[13:45] for r in records]
        for a in s.execute(select(Attachment).where(Attachment.record_id.in_([r.id for r in records]))).scalars():
            fragments.append(inst.blobs.get(a.uid)[40:72])
            fragments.append(a.filename_sealed[13:45])
        batch = s.execute(select(Batch).where(Batch.region_code == "110112", Batch.year == 2020)).scalar_one()
        ret.seal(s, batch, by=s.get(User, archivist.id), today=TODAY)
        ret.propose(s, batch, by=s.get(User, archivist.id))
        ret.approve(s, batch, by=s.get(User, leader.id))
        batch_id = batch.id
    # the backup: database file (checkpointed) and master key, taken before the run
    destroy.compact(inst)
    copy_home = tmp_path / "backup"
    copy_home.mkdir()
    db_file = settings.home / "xinfang.sqlite3"
    if not settings.is_sqlite:
        pytest.skip("the file copy of the database is a SQLite test")
    shutil.copy2(db_file, copy_home / "xinfang.sqlite3")
    (copy_home / "keys").symlink_to(settings.keystore_dir)   # the live key store, as on the server
    copy = Instance(Settings.from_env({}, home=str(copy_home),
                                      database_url=f"sqlite:///{copy_home / 'xinfang.sqlite3'}"))
    try:
        assert CANARY in _read_body(copy, serials[0], clerk.id)   # the backup works before the run

        reports = destroy.run(inst, batch_id=batch_id, today=TODAY)
        assert reports[0].residue_clean and len(reports[0].letters) == 5

        needles = [CANARY.encode(), CANARY.encode("utf-16-le")] + fragments
        for path, data in _all_bytes(settings.home):
            for needle in needles:
                assert needle not in data, f"residue of a destroyed letter in {path}"

        with pytest.raises(CryptoError):
            _read_body(Instance(copy.settings), serials[0], clerk.id)
    finally:
        copy.close()
