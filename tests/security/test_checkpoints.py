"""Issue 15, item 10: signed checkpoints of the audit head, outside the database (the key
store), written on a schedule (`xinfang audit checkpoint`) and at every `xinfang audit verify`,
which checks the trail against the latest: cutting the end of the chain and moving the stored
head back no longer goes unnoticed without --anchor."""
from __future__ import annotations

import json

from sqlalchemy import delete, func, select, update

from app.cli import cli
from records import audit
from records.audit import checkpoints
from records.models import AuditEntry, AuditHead


def _add_entries(inst, n):
    with inst.unit_of_work() as s:
        for i in range(n):
            audit.record(s, "test.entry", actor_name="system", target=str(i))


def test_verify_writes_a_checkpoint_into_the_key_store(inst, runner):
    _add_entries(inst, 3)
    r = runner.invoke(cli, ["audit", "verify"])
    assert r.exit_code == 0, r.output
    files = list((inst.settings.keystore_dir / checkpoints.FOLDER).glob("*.json"))
    assert files and all(f.stat().st_mode & 0o077 == 0 for f in files)
    data = json.loads(sorted(files)[-1].read_text())
    assert set(data) == {"entry", "hash", "at", "sig"}
    r = runner.invoke(cli, ["audit", "checkpoint"])
    assert r.exit_code == 0 and "Checkpoint written" in r.output
    _add_entries(inst, 2)
    r = runner.invoke(cli, ["audit", "verify"])
    assert r.exit_code == 0 and "checkpoint" in r.output and "matches" in r.output


def test_a_cut_trail_with_a_moved_head_is_caught(inst, runner):
    _add_entries(inst, 5)
    assert runner.invoke(cli, ["audit", "verify"]).exit_code == 0     # signs the head
    with inst.unit_of_work() as s:
        last = s.execute(select(func.max(AuditEntry.id))).scalar_one()
        keep = last - 3
        new_head = s.get(AuditEntry, keep).hash
        s.execute(delete(AuditEntry).where(AuditEntry.id > keep))
        s.execute(update(AuditHead).where(AuditHead.id == 1).values(last_id=keep, last_hash=new_head))
    with inst.unit_of_work() as s:
        assert audit.verify(s).ok, "the chain that is left verifies on its own"
    r = runner.invoke(cli, ["audit", "verify"])
    assert r.exit_code == 2 and "BROKEN" in r.output and "cut" in r.output


def test_a_forged_checkpoint_is_refused(inst, runner, tmp_path):
    folder = inst.settings.keystore_dir / checkpoints.FOLDER
    forged = folder / "999999999999-forged.json"
    forged.write_text(json.dumps({"entry": 1, "hash": "0" * 64, "at": "2026-01-01T00:00:00", "sig": "0" * 64}))
    try:
        r = runner.invoke(cli, ["audit", "verify"])
        assert r.exit_code == 2 and "signature" in r.output
    finally:
        forged.unlink()
