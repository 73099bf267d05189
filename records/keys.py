"""Master key rotation: add a version, re-wrap every data key under it, retire the old one.

No document is re-encrypted: only the small wrapped data keys in ``record_keys`` change.
Re-wrapping runs in batches, each its own transaction, so a kill loses at most one batch of
work and the next run carries on: the ``wrapped_by`` column says which rows are done. Data
keys wrapped by a batch key (stored letters) are not master-wrapped and are left alone.

The key file is replaced atomically (write beside it, fsync, rename) and keeps every old
version, so rows not yet re-wrapped stay readable. Restart the web server after a rotation:
it holds the keyring in memory and would not know the new version.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select

from records import audit, crypto
from records.errors import ConfigurationError, Conflict, NotFound
from records.instance import Instance
from records.models import Record, RecordKey
from records.db import utcnow

BATCH = 500


@dataclass
class RotationReport:
    version: int
    added_version: bool
    rewrapped: int
    remaining: int


def write_keyring_atomically(path, ring: crypto.Keyring) -> None:
    """Replace the key file with ``ring`` (mode 0600) so a crash leaves the old or the new file, whole."""
    tmp = path.with_name(path.name + ".new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(ring.to_json())
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _file_ring(inst: Instance) -> crypto.Keyring:
    s = inst.settings
    if s.master_key_source != "file":
        raise ConfigurationError(
            "The master keyring comes from the environment; rotate it there (add a version to the JSON, "
            "set 'current' to it) and run 'xinfang keys rotate' again to re-wrap.")
    return crypto.Keyring.from_json(s.key_file.read_text())


def usage(inst: Instance) -> dict[str, int]:
    """How many data keys each key wraps, e.g. ``{"master:1": 10, "master:2": 5}``."""
    with inst.unit_of_work() as s:
        rows = s.execute(select(RecordKey.wrapped_by, func.count()).group_by(RecordKey.wrapped_by)).all()
    return {ref: n for ref, n in rows}


def _stale_refs(ring: crypto.Keyring) -> list[str]:
    return [f"master:{v}" for v in ring.versions if v != ring.current]


def _remaining(inst: Instance, ring: crypto.Keyring) -> int:
    with inst.unit_of_work() as s:
        return s.execute(select(func.count()).select_from(RecordKey)
                         .where(RecordKey.wrapped_by.in_(_stale_refs(ring)))).scalar_one()


def add_version(inst: Instance) -> int:
    """Add a new master key version and make it current; old versions stay in the file."""
    ring = _file_ring(inst)
    new = max(ring.versions) + 1
    ring.versions[new] = crypto.new_key()
    ring.current = new
    write_keyring_atomically(inst.settings.key_file, ring)
    inst._keyring = ring  # this process wraps with the new version from now on
    with inst.unit_of_work() as s:
        audit.record(s, "keys.add_version", actor_name="system", target=f"master:{new}")
    return new


def rotate(inst: Instance, *, batch: int = BATCH, new_version: bool | None = None,
           progress: Callable[[int, int], None] | None = None) -> RotationReport:
    """Add a version (unless an interrupted rotation is being resumed) and re-wrap every data
    key wrapped by an older master version. ``progress(done, total)`` after each batch."""
    ring = _file_ring(inst) if inst.settings.master_key_source == "file" else inst.keyring
    inst._keyring = ring
    pending = _remaining(inst, ring)
    added = False
    if new_version or (new_version is None and pending == 0):
        add_version(inst)
        ring, added = inst.keyring, True
        pending = _remaining(inst, ring)
    total, done = pending, 0
    stale = _stale_refs(ring)
    while True:
        with inst.unit_of_work() as s:
            rows = s.execute(select(RecordKey).where(RecordKey.wrapped_by.in_(stale))
                             .order_by(RecordKey.record_id).limit(batch)).scalars().all()
            if not rows:
                break
            uids = dict(s.execute(select(Record.id, Record.uid)
                                  .where(Record.id.in_([r.record_id for r in rows]))).all())
            for rk in rows:
                uid = uids[rk.record_id]
                dek = crypto.unwrap_data_key(ring, uid, rk.wrapped_by, rk.wrapped_key)
                rk.wrapped_by, rk.wrapped_key = ring.wrap(dek, crypto.data_key_aad(uid))
                rk.rewrapped_at = utcnow()
            audit.record(s, "keys.rewrap", actor_name="system", target=ring.current_ref(),
                         detail={"count": len(rows)})
        done += len(rows)
        if progress:
            progress(done, total)
    return RotationReport(version=ring.current, added_version=added, rewrapped=done,
                          remaining=_remaining(inst, ring))


def retire(inst: Instance, version: int) -> None:
    """Remove an old master key version from the key file; refused while any data key uses it."""
    ring = _file_ring(inst)
    if version not in ring.versions:
        raise NotFound(f"Master key version {version} is not in the keyring.")
    if version == ring.current:
        raise Conflict(f"Version {version} is the current master key; rotate first.")
    in_use = usage(inst).get(f"master:{version}", 0)
    if in_use:
        raise Conflict(f"{in_use} data keys are still wrapped by master key version {version}; "
                       "finish the rotation ('xinfang keys rotate') first.")
    del ring.versions[version]
    write_keyring_atomically(inst.settings.key_file, ring)
    inst._keyring = ring
    with inst.unit_of_work() as s:
        audit.record(s, "keys.retire", actor_name="system", target=f"master:{version}")
