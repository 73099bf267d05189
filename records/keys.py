"""Master key lifecycle: add a version, re-wrap everything wrapped by an older one, retire it.

Everything that keeps material wrapped by the master key is a *holder* registered on the
instance (``inst.master_wrapped``, filled by ``app.composition.build_instance``): the
``record_keys`` rows (``RecordKeys`` here), retention's batch key files, anything added
later. Rotation re-wraps every holder; retiring a version is refused, naming the holder and
the count, while anything is still wrapped by it. No document is re-encrypted: only small
wrapped keys change.

Re-wrapping runs in steps, each durable on its own (a transaction, an atomic file replace),
so a kill loses at most one step and the next run carries on: each item says which version
wraps it. The key file is replaced atomically (write beside it, fsync, rename) and keeps
every old version until it is retired, so items not yet re-wrapped stay readable. A running
server picks up the new key file at its next unit of work.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import func, select

from records import audit, crypto
from records.db import utcnow
from records.errors import ConfigurationError, Conflict, NotFound
from records.instance import Instance, MasterWrappedHolder
from records.models import Record, RecordKey

BATCH = 500


@dataclass
class RotationReport:
    version: int
    added_version: bool
    rewrapped: int
    remaining: int
    #: Items re-wrapped per holder name.
    by_holder: dict[str, int] = field(default_factory=dict)


class RecordKeys:
    """The letters' data keys in ``record_keys`` wrapped by the master key (a stored letter's
    key is wrapped by its batch key instead: ``batch:…``, not a master ref)."""

    name = "record keys"

    def usage(self, inst: Instance) -> dict[str, int]:
        with inst.unit_of_work() as s:
            rows = s.execute(select(RecordKey.wrapped_by, func.count()).group_by(RecordKey.wrapped_by)).all()
        return {ref: n for ref, n in rows}

    def rewrap_step(self, inst: Instance, stale: list[str], limit: int) -> int:
        ring = inst.keyring
        with inst.unit_of_work() as s:
            rows = s.execute(select(RecordKey).where(RecordKey.wrapped_by.in_(stale))
                             .order_by(RecordKey.record_id).limit(limit).with_for_update()).scalars().all()
            if not rows:
                return 0
            uids = dict(s.execute(select(Record.id, Record.uid)
                                  .where(Record.id.in_([r.record_id for r in rows]))).all())
            for rk in rows:
                uid = uids[rk.record_id]
                dek = crypto.unwrap_data_key(ring, uid, rk.wrapped_by, rk.wrapped_key)
                rk.wrapped_by, rk.wrapped_key = ring.wrap(dek, crypto.data_key_aad(uid))
                rk.rewrapped_at = utcnow()
            audit.record(s, "keys.rewrap", actor_name="system", target=ring.current_ref(),
                         detail={"holder": self.name, "count": len(rows)})
        return len(rows)


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


def holders(inst: Instance) -> list[MasterWrappedHolder]:
    """The instance's holders of master-wrapped material; refused on an instance built
    without them (rotating or retiring there could leave something behind)."""
    if not inst.master_wrapped:
        raise ConfigurationError("No holder of master-wrapped material is registered on this instance "
                                 "(build it with app.composition.build_instance).")
    return list(inst.master_wrapped)


def usage(inst: Instance) -> dict[str, dict[str, int]]:
    """Per holder, how many items each key wraps, e.g.
    ``{"record keys": {"master:2": 40, "batch:1.1": 3}, "batch key files": {"master:2": 1}}``."""
    return {h.name: h.usage(inst) for h in holders(inst)}


def _stale_refs(ring: crypto.Keyring) -> list[str]:
    return [f"master:{v}" for v in ring.versions if v != ring.current]


def _pending(inst: Instance, stale: list[str]) -> dict[str, int]:
    out = {}
    for name, counts in usage(inst).items():
        n = sum(counts.get(ref, 0) for ref in stale)
        if n:
            out[name] = n
    return out


def add_version(inst: Instance) -> int:
    """Add a new master key version and make it current; old versions stay in the file."""
    ring = _file_ring(inst)
    new = max(ring.versions) + 1
    ring.versions[new] = crypto.new_key()
    ring.current = new
    write_keyring_atomically(inst.settings.key_file, ring)
    inst.use_keyring(ring)  # this process wraps with the new version from now on
    with inst.unit_of_work() as s:
        audit.record(s, "keys.add_version", actor_name="system", target=f"master:{new}")
    return new


def rotate(inst: Instance, *, batch: int = BATCH, new_version: bool | None = None,
           progress: Callable[[int, int], None] | None = None) -> RotationReport:
    """Add a version (unless an interrupted rotation is being resumed) and re-wrap everything
    every holder keeps under an older master version. ``progress(done, total)`` after each step."""
    the_holders = holders(inst)
    ring = _file_ring(inst) if inst.settings.master_key_source == "file" else inst.keyring
    inst.use_keyring(ring)
    pending = sum(_pending(inst, _stale_refs(ring)).values())
    added = False
    if new_version or (new_version is None and pending == 0):
        add_version(inst)
        ring, added = inst.keyring, True
    stale = _stale_refs(ring)
    total = sum(_pending(inst, stale).values())
    done, by_holder = 0, {}
    for holder in the_holders:
        while True:
            n = holder.rewrap_step(inst, stale, batch)
            if not n:
                break
            done += n
            by_holder[holder.name] = by_holder.get(holder.name, 0) + n
            if progress:
                progress(done, max(total, done))
    return RotationReport(version=ring.current, added_version=added, rewrapped=done,
                          remaining=sum(_pending(inst, stale).values()), by_holder=by_holder)


def retire(inst: Instance, version: int) -> None:
    """Remove an old master key version from the key file; refused, naming what, while any
    holder still has something wrapped by it."""
    ring = _file_ring(inst)
    if version not in ring.versions:
        raise NotFound(f"Master key version {version} is not in the keyring.")
    if version == ring.current:
        raise Conflict(f"Version {version} is the current master key; rotate first.")
    in_use = _pending(inst, [f"master:{version}"])
    if in_use:
        what = "; ".join(f"{name}: {n}" for name, n in in_use.items())
        raise Conflict(f"Master key version {version} still wraps {what}; finish the rotation "
                       "('xinfang keys rotate') first.")
    del ring.versions[version]
    write_keyring_atomically(inst.settings.key_file, ring)
    inst.use_keyring(ring)
    with inst.unit_of_work() as s:
        audit.record(s, "keys.retire", actor_name="system", target=f"master:{version}")
