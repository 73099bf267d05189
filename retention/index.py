"""The search index seen from retention: delete destroyed letters' documents and purge
their year shard, then clear the outbox's delete operations for them.

Uses the instance's configured search backend (``search.factory``: Whoosh, or the
PostgreSQL table), its ``delete`` and ``purge(years)``. When no index has been built yet
there is nothing to purge."""
from __future__ import annotations

from sqlalchemy import delete, select

from records.models import OutboxEntry


def _backend(inst):
    """The instance's search backend, or None when the index was never created."""
    getter = getattr(inst, "search_backend", None)
    if callable(getter):
        return getter()
    from search.factory import existing_backend
    from search.blind import key_id

    return existing_backend(inst, key_id(inst.purpose_key("blind-token")))


def purge_deleted(inst, years: list[int]) -> int:
    """Apply the outbox's pending deletes to the index, merge the shards of ``years`` so no
    deleted document survives in a segment, and clear those outbox rows. Returns how many
    documents were removed."""
    with inst.unit_of_work() as s:
        rows = s.execute(select(OutboxEntry.id, OutboxEntry.record_uid).where(OutboxEntry.op == "delete")).all()
    uids = sorted({r.record_uid for r in rows})
    removed = 0
    backend = _backend(inst)
    if backend is not None:
        from search.indexer import writer_lock

        with writer_lock(inst):  # the one writer: never beside a drain or a reindex
            if uids:
                removed = backend.delete(uids, purge=False)
            backend.purge(years)
    if rows:
        ids = [r.id for r in rows]
        with inst.unit_of_work() as s:
            for i in range(0, len(ids), 500):
                s.execute(delete(OutboxEntry).where(OutboxEntry.id.in_(ids[i:i + 500])))
    return removed
