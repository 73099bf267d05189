"""Wiring retention into the records core without the core importing it.

* Batch keys: ``records.sealing`` asks ``sealing.UNWRAPPERS["batch"]`` for the provider of
  refs ``batch:<id>.<generation>``, so stored letters stay readable to authorised users.
* Re-keying: whichever service stores a letter (the workflow's ``store`` transition, an
  import, a test), the letter is put in its batch and its data key re-wrapped under the
  batch key in the same transaction, just before it commits. ``operations.on_stored`` is
  idempotent, so a caller may also call it directly.
"""
from __future__ import annotations

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from records import sealing
from records.models import Record

_PENDING = "retention.stored_pending"
_installed = False


def _batch_unwrapper(inst):
    from .keystore import provider_for

    return provider_for(inst)


def _before_flush(session: Session, flush_context, instances) -> None:
    if "xinfang" not in session.info:
        return
    for obj in list(session.new) + list(session.dirty):
        if isinstance(obj, Record) and obj.status == "stored":
            hist = inspect(obj).attrs.status.history
            reason_hist = inspect(obj).attrs.stored_reason.history
            if obj in session.new or hist.has_changes() or reason_hist.has_changes():
                session.info.setdefault(_PENDING, set()).add(obj)


def _before_commit(session: Session) -> None:
    if "xinfang" in session.info:
        _before_flush(session, None, None)  # changes not flushed yet
    pending = session.info.get(_PENDING)
    if not pending or "xinfang" not in session.info:
        return
    session.flush()  # may add more
    from .operations import on_stored

    while session.info.get(_PENDING):
        record = session.info[_PENDING].pop()
        if record in session and inspect(record).persistent:
            on_stored(session, record)
    session.flush()


def _forget(session: Session, *args) -> None:
    session.info.pop(_PENDING, None)


def install() -> None:
    """Idempotent; called when the ``retention`` package is imported."""
    global _installed
    if _installed:
        return
    sealing.UNWRAPPERS["batch"] = _batch_unwrapper
    event.listen(Session, "before_flush", _before_flush)
    event.listen(Session, "before_commit", _before_commit)
    event.listen(Session, "after_rollback", _forget)
    _installed = True
