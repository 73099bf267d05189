"""Signed checkpoints of the audit trail's head, kept outside the database.

Someone able to write the database could cut the end of the hash chain and move the stored
head back: the chain that is left still verifies. A checkpoint is the head (entry number
and hash) signed with the ``audit-checkpoint`` purpose key and written as a file into the
key store folder (``<keystore>/audit-checkpoints``), which a database writer cannot reach.
``xinfang audit checkpoint`` writes one (cron, hourly) and ``xinfang audit verify`` checks the
chain against the latest one and then writes a new one: an entry named by a checkpoint must
still be there with the same hash.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from records.db import utcnow
from records.instance import Instance
from records.models import AuditEntry, AuditHead

FOLDER = "audit-checkpoints"
#: Checkpoints kept (older ones are removed); the newest is the one checked.
KEEP = 200


@dataclass(frozen=True)
class Checkpoint:
    entry: int
    hash: str
    at: str

    def _payload(self) -> bytes:
        return json.dumps([self.entry, self.hash, self.at], separators=(",", ":")).encode()


def _folder(inst: Instance) -> Path:
    path = inst.settings.keystore_dir / FOLDER
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    return path


def _sign(inst: Instance, cp: Checkpoint) -> str:
    return hmac.new(inst.purpose_key("audit-checkpoint"), cp._payload(), hashlib.sha256).hexdigest()


def write(inst: Instance, session: Session) -> Checkpoint | None:
    """Sign the current head into a new file of the key store (None: the trail is empty)."""
    head = session.get(AuditHead, 1)
    if head is None or not head.last_id:
        return None
    cp = Checkpoint(entry=head.last_id, hash=head.last_hash, at=utcnow().isoformat(timespec="seconds"))
    folder = _folder(inst)
    name = f"{cp.entry:012d}-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%f}.json"
    tmp = folder / (name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"entry": cp.entry, "hash": cp.hash, "at": cp.at, "sig": _sign(inst, cp)}, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, folder / name)
    for old in sorted(folder.glob("*.json"))[:-KEEP]:
        old.unlink(missing_ok=True)
    return cp


class CheckpointProblem(Exception):
    """The trail does not fit a signed checkpoint, or a checkpoint file was tampered with."""


def latest(inst: Instance) -> Checkpoint | None:
    """The newest checkpoint (by entry number); a file whose signature fails is a problem."""
    files = sorted(_folder(inst).glob("*.json"))
    if not files:
        return None
    newest = None
    for path in files:
        try:
            data = json.loads(path.read_text())
            cp = Checkpoint(entry=int(data["entry"]), hash=str(data["hash"]), at=str(data["at"]))
            good = hmac.compare_digest(_sign(inst, cp), str(data["sig"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise CheckpointProblem(f"checkpoint {path.name} is unreadable ({type(exc).__name__})") from None
        if not good:
            raise CheckpointProblem(f"checkpoint {path.name} does not carry a valid signature")
        if newest is None or cp.entry >= newest.entry:
            newest = cp
    return newest


def check(inst: Instance, session: Session) -> tuple[Checkpoint | None, str]:
    """(latest checkpoint, problem or ""): entry N of the checkpoint must hold its hash."""
    try:
        cp = latest(inst)
    except CheckpointProblem as exc:
        return None, str(exc)
    if cp is None:
        return None, ""
    entry = session.get(AuditEntry, cp.entry)
    if entry is None:
        return cp, (f"entry {cp.entry}, signed in a checkpoint at {cp.at}, is gone: "
                    "the end of the trail was cut")
    if not hmac.compare_digest(entry.hash, cp.hash):
        return cp, f"entry {cp.entry} no longer has the hash signed in the checkpoint of {cp.at}: it was replaced"
    return cp, ""
