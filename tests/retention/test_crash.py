"""Crash safety: a destruction run killed with SIGKILL at several points; after each kill
every letter is either intact (readable) or fully destroyed, and running again finishes."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from sqlalchemy import func, select

from records.cases import operations
from records.errors import CryptoError
from records.models import Record
from records.accounts.models import User
from retention.models import Batch, BatchLetter, Certificate, DestroyedLetter, DestructionRun

from .conftest import TODAY, approved_batch

SCRIPT = textwrap.dedent("""
    import datetime as dt, os, signal, sys

    from retention import destroy
    from records.settings import Settings
    from app.composition import build_instance

    kill_at = sys.argv[1]
    destroy.CHUNK = 3

    def hook(name):
        if name == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

    destroy.checkpoint_hook = hook
    inst = build_instance(Settings.from_env())
    destroy.run(inst, batch_id=int(sys.argv[2]), today=dt.date.fromisoformat(sys.argv[3]))
    print("finished")
""")


def _run(settings, kill_at: str, batch_id: int) -> int:
    env = dict(os.environ, XINFANG_HOME=str(settings.home), XINFANG_DATABASE_URL=settings.database_url)
    proc = subprocess.run([sys.executable, "-c", SCRIPT, kill_at, str(batch_id), TODAY.isoformat()],
                          env=env, cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode in (0, -signal.SIGKILL), proc.stderr[-2000:]
    return proc.returncode


def _consistent(inst, serials, reader_id) -> tuple[int, int]:
    intact = destroyed = 0
    with inst.unit_of_work() as s:
        reader = s.get(User, reader_id)
        for serial in serials:
            record = s.execute(select(Record).where(Record.serial == serial)).scalar_one_or_none()
            gone = s.execute(select(DestroyedLetter).where(DestroyedLetter.serial == serial)).scalar_one_or_none()
            state = s.execute(select(BatchLetter.state).where(BatchLetter.serial == serial)).scalar_one()
            if record is not None:
                assert gone is None and state == "listed", serial
                try:
                    assert "來信內容" in operations.view(s, record, reader).content["body"]
                except CryptoError:
                    raise AssertionError(f"{serial} is half destroyed: its row is there but its key is not") from None
                assert all(inst.blobs.exists(a.uid) for a in record.attachments), serial
                intact += 1
            else:
                assert gone is not None and state == "destroyed", serial
                destroyed += 1
    return intact, destroyed


def test_killed_runs_leave_letters_intact_or_destroyed_and_resume(inst, settings, make_user, store_letters):
    from records.cases.operations import Upload

    clerk, archivist, leader = make_user("clerk"), make_user("archivist"), make_user("leader")
    serials = store_letters(clerk, 10, region="110113", year=2020, uploads=[Upload("a.txt", "附件".encode())])
    batch_id = approved_batch(inst, archivist, leader, "110113", 2020)

    seen = []
    for point in ("prepared", "deleted:1", "deleted:2", "blobs", "deleted", "purged", "key_destroyed",
                  "compacted"):
        code = _run(settings, point, batch_id)
        assert code == -signal.SIGKILL, f"the run did not reach {point}"
        intact, destroyed = _consistent(inst, serials, clerk.id)
        assert intact + destroyed == 10
        seen.append(destroyed)
    # chunks of 3: killed after the first chunk of one attempt, then after the second of the next
    assert seen[:4] == [0, 3, 9, 10], seen
    assert _run(settings, "never", batch_id) == 0
    assert _consistent(inst, serials, clerk.id) == (0, 10)
    with inst.unit_of_work() as s:
        run = s.execute(select(DestructionRun).where(DestructionRun.batch_id == batch_id)).scalar_one()
        assert run.phase == "certified" and run.attempts == 9
        cert = s.execute(select(Certificate).where(Certificate.run_id == run.id)).scalar_one()
        assert cert.letters == 10 and cert.residue_clean
        assert s.get(Batch, batch_id).state == "certified"
        assert s.execute(select(func.count()).select_from(DestroyedLetter)
                         .where(DestroyedLetter.batch_id == batch_id)).scalar_one() == 10
    assert not any(p.name.startswith(f"{batch_id}.1") for p in (settings.keystore_dir / "batches").iterdir())
