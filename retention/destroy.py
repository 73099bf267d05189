"""The destruction run: journaled, resumable, crypto-shredding.

A run goes through phases, each committed before the next starts, so that a process killed
at any moment (SIGKILL included) leaves every letter either intact or fully destroyed, and
running again finishes the job:

1. ``prepared`` — one transaction: re-check state, due date and holds; re-wrap the letters
   that stay (held, excluded, stored late) under a *new* batch key generation; write the
   journal (one step per letter, with fingerprints of its ciphertexts for the residue check).
2. ``deleted`` — chunks of letters, one transaction each: every row holding its ciphertext,
   history, attachments and blind tokens is deleted, its residual metadata written, an index
   delete queued, and its journal step marked; then its blob files are removed.
3. ``purged`` — index documents deleted and their shard merged; outbox rows cleared.
4. ``key_destroyed`` — the old batch key generation is destroyed in the key store: a
   backup taken before the run can no longer open these letters, even with the master key.
5. ``compacted`` — SQLite: ``wal_checkpoint(TRUNCATE)``, ``VACUUM``, checkpoint again (rows
   were already deleted under ``secure_delete``); PostgreSQL: ``VACUUM FULL`` of the tables.
6. ``certified`` — residue scan of the instance's files, certificate written, batch certified.
"""
from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import LargeBinary, delete, insert, select, update
from sqlalchemy.orm import Session

from records import audit, policy
from records.db import Base
from records.errors import Codes, Conflict, Msg, NotFound
from records.models import Attachment, OutboxEntry, Record, RecordKey
from records.accounts.models import User
from records.db import in_steps, utcnow
from search import indexer

from . import keystore, residue
from .certificate import issue
from .compaction import _dependent_tables, affected_tables, compact, keyed_tables  # noqa: F401 - re-exported
from .models import Batch, BatchLetter, Certificate, DestroyedLetter, DestructionRun, RunStep
from .operations import LIVE_STATES, ensure_key, held_serials, rekey_all, retention_policy, sync_batch
from retention.schedules import today_in

CHUNK = 500
PHASES = ("prepared", "deleted", "purged", "key_destroyed", "compacted", "certified")

#: Test hook: called with the name of each checkpoint (e.g. ``"deleted:1"``); a crash test
#: sets it to kill the process there. ``None`` in production.
checkpoint_hook: Callable[[str], None] | None = None

Progress = Callable[[str, int, int], None]


def _checkpoint(name: str) -> None:
    if checkpoint_hook is not None:
        checkpoint_hook(name)


def _noop(phase: str, done: int, total: int) -> None:
    pass


@dataclass
class RunReport:
    batch_id: int
    batch_label: str
    run_id: int | None = None
    letters: list[str] = field(default_factory=list)
    skipped_held: list[str] = field(default_factory=list)
    certificate: str | None = None
    residue_clean: bool | None = None
    seconds: float = 0.0
    resumed: bool = False
    note: str = ""


# -- what a run would do ------------------------------------------------------------------
def _candidates(session: Session, batch: Batch) -> tuple[list[BatchLetter], list[BatchLetter]]:
    """(letters to destroy, letters kept because of a hold), re-checking holds now."""
    whole, serials = held_serials(session, batch)
    listed = session.execute(
        select(BatchLetter).where(BatchLetter.batch_id == batch.id, BatchLetter.state == "listed")
        .order_by(BatchLetter.serial)).scalars().all()
    # whether each is still stored, by id, a step at a time: as a join, PostgreSQL planned
    # from statistics older than the batch's rows (one row each side, as when the run
    # follows its approval) a nested loop through every stored letter for each letter of
    # the batch, 12.5 million rows compared for 5,000 letters (1.7 s; 10,000: 2 x 5 s)
    ids = [b.record_id for b in listed]
    stored = {rid for step in in_steps(ids, CHUNK) for rid in session.execute(
        select(Record.id).where(Record.id.in_(step), Record.status == "stored")).scalars()}
    listed = [b for b in listed if b.record_id in stored]
    if whole:
        return [], listed
    return [b for b in listed if b.serial not in serials], [b for b in listed if b.serial in serials]


def plan(session: Session, *, batch_id: int | None = None, today: dt.date | None = None) -> list[RunReport]:
    """Exactly what ``run`` would destroy today (changes nothing): unfinished runs to resume,
    then approved, due, unheld batches."""
    today = today or today_in(_settings(session))
    out = []
    for run in _unfinished(session, batch_id):
        steps = session.execute(select(RunStep.serial).where(RunStep.run_id == run.id, RunStep.state == "pending")
                                .order_by(RunStep.serial)).scalars().all()
        out.append(RunReport(run.batch_id, run.batch.label, run.id, list(steps), resumed=True,
                             note="unfinished run: will be resumed"))
    busy = {r.batch_id for r in out}
    pol = retention_policy(session)
    q = select(Batch).where(Batch.state == "approved").order_by(Batch.year, Batch.region_code)
    if batch_id is not None:
        q = q.where(Batch.id == batch_id)
    for batch in session.execute(q).scalars():
        if batch.id in busy:
            continue
        go, held = _candidates(session, batch)
        report = RunReport(batch.id, batch.label, letters=[b.serial for b in go], skipped_held=[b.serial for b in held])
        due = pol.batch_due_on(batch.year, {b.stored_reason for b in go})
        if today < due:
            report.letters, report.note = [], f"not due until {due.isoformat()}"
        elif not go:
            report.note = "every listed letter is held" if held else "nothing listed"
        out.append(report)
    return out


def _settings(session: Session):
    from records.instance import instance_of

    return instance_of(session).settings


def _unfinished(session: Session, batch_id: int | None = None) -> list[DestructionRun]:
    q = select(DestructionRun).where(DestructionRun.phase != "certified").order_by(DestructionRun.id)
    if batch_id is not None:
        q = q.where(DestructionRun.batch_id == batch_id)
    return session.execute(q).scalars().all()


def check_run(session: Session, batch: Batch, *, user: User | None = None,
              today: dt.date | None = None) -> RunReport:
    """THE checks before a destruction of ``batch`` starts, for every caller (web, API, CLI,
    the job itself): the user (None: the system, e.g. cron) may approve destructions, and the
    batch has an unfinished run to resume, or is approved, due and has unheld letters listed.
    Returns what the run would do; raises AccessDenied or Conflict (naming why) otherwise."""
    if user is not None:
        policy.require(user, policy.APPROVE_DESTRUCTION)
    reports = plan(session, batch_id=batch.id, today=today)
    if reports and reports[0].resumed:
        return reports[0]
    if batch.state != "approved":
        raise Conflict(Msg("The batch %(batch)s is %(state)s; only an approved list can be run.", batch=batch.label,
                           state=Codes((batch.state,), "batch_state")))
    if not reports or not reports[0].letters:
        raise Conflict((reports[0].note if reports and reports[0].note else "nothing to destroy")
                       + f" (batch {batch.label}).")
    return reports[0]


# -- the run ----------------------------------------------------------------------------------
def run(inst, *, batch_id: int | None = None, by_id: int | None = None, today: dt.date | None = None,
        progress: Progress | None = None) -> list[RunReport]:
    """Resume unfinished runs, then destroy every approved, due, unheld batch (or just one)."""
    progress = progress or _noop
    reports = []
    with inst.unit_of_work() as s:
        resume = [r.id for r in _unfinished(s, batch_id)]
    for run_id in resume:
        reports.append(_finish(inst, run_id, progress, resumed=True))
    with inst.unit_of_work() as s:
        todo = [r for r in plan(s, batch_id=batch_id, today=today) if not r.resumed]
    for item in todo:
        if not item.letters:
            reports.append(item)
            continue
        run_id = _prepare(inst, item.batch_id, by_id=by_id, today=today, progress=progress)
        if run_id is None:
            item.note = item.note or "nothing to destroy"
            reports.append(item)
            continue
        reports.append(_finish(inst, run_id, progress))
    return reports


def _fingerprints(inst, session: Session, ids: list[int]) -> dict[int, list]:
    """Fingerprints of every ciphertext, blind token and uid of these letters."""
    fps: dict[int, list] = {i: [] for i in ids}
    records = Base.metadata.tables["records"]
    binary = [c for c in records.columns if isinstance(c.type, LargeBinary)]
    for row in session.execute(select(records.c.id, records.c.uid, *binary).where(records.c.id.in_(ids))):
        fps[row[0]] += residue.fingerprint(row[1].encode(), "u")
        for value in row[2:]:
            fps[row[0]] += residue.fingerprint(value or b"", "c")
    for table, col in _dependent_tables():
        cols = [c for c in table.columns if isinstance(c.type, LargeBinary)]
        if not cols:
            continue
        for row in session.execute(select(col, *cols).where(col.in_(ids))):
            for _col, value in zip(cols, row[1:]):
                kind = "t" if table.name == "identity_tokens" else "c"
                fps[row[0]] += residue.fingerprint(value or b"", kind) if kind == "c" else \
                    [residue.token_fingerprint(value)]
    for rid, uid in session.execute(select(Attachment.record_id, Attachment.uid).where(Attachment.record_id.in_(ids))):
        try:
            data = inst.blobs.get(uid)
        except NotFound:   # a missing blob has nothing left to find
            continue
        fps[rid] += residue.fingerprint(data, "c", windows=4)
    return fps


def _prepare(inst, batch_id: int, *, by_id: int | None, today: dt.date | None,
             progress: Progress) -> int | None:
    """Phase 1 (one transaction)."""
    today = today or today_in(inst.settings)
    with inst.unit_of_work() as s:
        batch = s.execute(select(Batch).where(Batch.id == batch_id).with_for_update()).scalar_one()
        if batch.state != "approved":
            raise Conflict(Msg("Batch %(batch)s is %(state)s; only an approved list is destroyed.", batch=batch.label,
                               state=Codes((batch.state,), "batch_state")))
        if _unfinished(s, batch.id):
            raise Conflict(Msg("Batch %(batch)s already has a run in progress; run again to resume it.", batch=batch.label))
        go, held = _candidates(s, batch)
        due = retention_policy(s).batch_due_on(batch.year, {b.stored_reason for b in go})
        if today < due:
            raise Conflict(Msg("Batch %(batch)s is not due until %(day)s.", batch=batch.label, day=due))
        if not go:
            return None
        user = s.get(User, by_id) if by_id else None
        old_gen = batch.key_generation
        # the letters that stay move to a new key generation, so the old one can be destroyed
        batch.key_generation = old_gen + 1
        ensure_key(s, batch)
        # filtered here, not by a NOT IN list: a batch may hold more letters than a statement
        # may carry parameters (65,535 on PostgreSQL)
        go_ids = {b.id for b in go}
        stay = [rid for blid, rid in s.execute(
            select(BatchLetter.id, Record.id).join(Record, BatchLetter.record_id == Record.id)
            .where(BatchLetter.batch_id == batch.id, BatchLetter.state.in_(LIVE_STATES)).order_by(Record.id))
            if blid not in go_ids]
        rekey_all(s, batch, stay)
        for bl in held:
            bl.state = "member"   # back in the batch; listed again once the hold is lifted
        run = DestructionRun(batch_id=batch.id, phase="prepared", started_by_id=by_id, started_at=utcnow(),
                             proposed_by_id=batch.proposed_by_id, approved_by_id=batch.approved_by_id,
                             old_key_generation=old_gen, letters=len(go), skipped_held=len(held))
        s.add(run)
        s.flush()
        record_ids = [b.record_id for b in go]
        blobs: dict[int, list[str]] = {}
        for step in in_steps(record_ids, CHUNK):
            for rid, uid in s.execute(select(Attachment.record_id, Attachment.uid)
                                      .where(Attachment.record_id.in_(step))):
                blobs.setdefault(rid, []).append(uid)
        done = 0
        for i in range(0, len(go), CHUNK):
            part = go[i:i + CHUNK]
            fps = _fingerprints(inst, s, [b.record_id for b in part])
            s.execute(insert(RunStep), [
                {"run_id": run.id, "batch_letter_id": b.id, "record_id": b.record_id, "serial": b.serial,
                 "state": "pending", "blobs": json.dumps(blobs.get(b.record_id, [])),
                 "fingerprints": json.dumps(fps[b.record_id])} for b in part])
            done += len(part)
            progress("prepare", done, len(go))
        audit.record(s, "retention.run.start", actor=user, actor_name=None if user else "retention-run",
                     target=f"batch:{batch.id}",
                     detail={"run": run.id, "letters": len(go), "held": len(held), "old_key": old_gen,
                             "new_key": batch.key_generation, "rekeyed": len(stay)})
        run_id = run.id
    _checkpoint("prepared")
    return run_id


def _finish(inst, run_id: int, progress: Progress, resumed: bool = False) -> RunReport:
    started = time.monotonic()
    with inst.unit_of_work() as s:
        run = s.get(DestructionRun, run_id)
        if resumed:
            run.attempts += 1
            audit.record(s, "retention.run.resume", actor_name="retention-run", target=f"batch:{run.batch_id}",
                         detail={"run": run.id, "phase": run.phase, "attempt": run.attempts})
        phase = run.phase
        report = RunReport(run.batch_id, run.batch.label, run.id, resumed=resumed)
    if phase == "prepared":
        _delete_all(inst, run_id, progress)
        phase = _set_phase(inst, run_id, "deleted")
    if phase == "deleted":
        _purge_index(inst, run_id, progress)
        phase = _set_phase(inst, run_id, "purged")
    if phase == "purged":
        _destroy_keys(inst, run_id)
        phase = _set_phase(inst, run_id, "key_destroyed")
    if phase == "key_destroyed":
        progress("compact", 0, 1)
        compact(inst, run_id)
        phase = _set_phase(inst, run_id, "compacted")
        progress("compact", 1, 1)
    if phase == "compacted":
        cert = issue(inst, run_id, progress)
        report.certificate, report.residue_clean = cert.number, cert.residue_clean
        _checkpoint("certified")
    with inst.unit_of_work() as s:
        report.letters = s.execute(select(RunStep.serial).where(RunStep.run_id == run_id)
                                   .order_by(RunStep.serial)).scalars().all()
        if report.certificate is None:
            cert = s.execute(select(Certificate).where(Certificate.run_id == run_id)).scalar_one_or_none()
            if cert is not None:
                report.certificate, report.residue_clean = cert.number, cert.residue_clean
    report.seconds = time.monotonic() - started
    return report


def _set_phase(inst, run_id: int, phase: str) -> str:
    with inst.unit_of_work() as s:
        s.execute(update(DestructionRun).where(DestructionRun.id == run_id).values(phase=phase))
    _checkpoint(phase)
    return phase


def _delete_all(inst, run_id: int, progress: Progress) -> None:
    """Phase 2: delete the letters chunk by chunk; then their blob files."""
    tz = inst.settings.tz
    with inst.unit_of_work() as s:
        total = s.execute(select(RunStep.id).where(RunStep.run_id == run_id)).all()
        total = len(total)
        done = s.execute(select(RunStep.id).where(RunStep.run_id == run_id, RunStep.state != "pending")).all()
        done = len(done)
    chunk_no = 0
    while True:
        with inst.unit_of_work() as s:
            run = s.get(DestructionRun, run_id)
            steps = s.execute(select(RunStep).where(RunStep.run_id == run_id, RunStep.state == "pending")
                              .order_by(RunStep.id).limit(CHUNK)).scalars().all()
            if not steps:
                break
            _delete_chunk(s, run, steps, tz)
            done += len(steps)
        chunk_no += 1
        progress("delete", done, total)
        _checkpoint(f"deleted:{chunk_no}")
    # blob files: after the rows are gone (a crash in between leaves orphans, removed on resume)
    with inst.unit_of_work() as s:
        steps = s.execute(select(RunStep).where(RunStep.run_id == run_id, RunStep.state == "deleted")).scalars().all()
        for step in steps:
            for uid in json.loads(step.blobs):
                inst.blobs.delete(uid)
            step.state, step.blobs, step.done_at = "done", "[]", utcnow()
    _checkpoint("blobs")


def _delete_chunk(s: Session, run: DestructionRun, steps: list[RunStep], tz: ZoneInfo) -> None:
    ids = [st.record_id for st in steps]
    records = Base.metadata.tables["records"]
    rows = s.execute(select(records.c.id, records.c.uid, records.c.serial, records.c.region_code,
                            records.c.year, records.c.received_at).where(records.c.id.in_(ids))).all()
    by_id = {r.id: r for r in rows}
    letters = {b.id: b for b in s.execute(select(BatchLetter).where(
        BatchLetter.id.in_([st.batch_letter_id for st in steps]))).scalars()}
    # a surviving letter may point at a destroyed one (a repeat of it): keep the survivor, drop the link
    for col in records.columns:
        for fk in col.foreign_keys:
            if fk.column.table is records:
                s.execute(update(records).where(col.in_(ids)).values({col.name: None}))
    for table, col in reversed(_dependent_tables()):
        s.execute(delete(table).where(col.in_(ids)))
    uids = [r.uid for r in rows]
    s.execute(delete(OutboxEntry).where(OutboxEntry.record_uid.in_(uids)))
    s.execute(delete(records).where(records.c.id.in_(ids)))
    if uids:
        s.execute(insert(OutboxEntry), [{"record_uid": u, "op": "delete", "created_at": utcnow()} for u in uids])
    now = utcnow()
    residual = []
    for st in steps:
        bl = letters[st.batch_letter_id]
        r = by_id.get(st.record_id)
        residual.append({
            "serial": st.serial, "region_code": r.region_code if r else run.batch.region_code,
            "year": r.year if r else run.batch.year, "stored_reason": bl.stored_reason,
            "received_on": bl.received_on, "stored_on": bl.stored_at.astimezone(tz).date(),
            "destroyed_at": now, "batch_id": run.batch_id, "run_id": run.id})
        bl.state, bl.record_id = "destroyed", None
        st.state = "deleted"
    s.execute(insert(DestroyedLetter), residual)
    s.flush()


def _purge_index(inst, run_id: int, progress: Progress) -> None:
    """Phase 3: index documents deleted, their shard merged, the delete ops cleared."""
    with inst.unit_of_work() as s:
        run = s.get(DestructionRun, run_id)
        year = run.batch.year
    progress("index", 0, 1)
    indexer.purge_deleted(inst, years=[year])
    progress("index", 1, 1)


def _destroy_keys(inst, run_id: int) -> None:
    """Phase 4: destroy every key generation of the batch older than the current one."""
    with inst.unit_of_work() as s:
        run = s.get(DestructionRun, run_id)
        batch = run.batch
        # the rows wrapped under the old key must be gone before the key goes
        left = s.execute(select(RecordKey.record_id).where(
            RecordKey.wrapped_by == f"batch:{keystore.key_id(batch.id, run.old_key_generation)}")).first()
        if left is not None:
            # a letter stored into the batch while the run was prepared: move it to the new key
            sync_batch(s, batch)
        generations = range(1, batch.key_generation)
        batch_id = batch.id
    store = keystore.keystore_for(inst)
    provider = keystore.provider_for(inst)
    destroyed = []
    for gen in generations:
        kid = keystore.key_id(batch_id, gen)
        provider.forget(f"batch:{kid}")
        if store.destroy(kid):
            destroyed.append(kid)
    with inst.unit_of_work() as s:
        audit.record(s, "retention.key.destroy", actor_name="retention-run", target=f"batch:{batch_id}",
                     detail={"run": run_id, "keys": destroyed})
