"""What a destroyed letter's address answers: when it was destroyed, in which batch, under
which certificate (the residual metadata kept permanently), never anything of its content."""
from __future__ import annotations

from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from records import policy
from records.accounts.models import User
from records.cases.operations import SERIAL_RE

from .models import Batch, BatchLetter, Certificate, DestroyedLetter

#: Letter states in a batch that still exist (see operations.LIVE_STATES).
_LIVE = ("member", "listed", "excluded")


def may_know(user: User | None) -> bool:
    """Those who read the ledger or the retention lists may learn a serial's fate."""
    return policy.holds(user, policy.VIEW_LEDGER) or policy.holds(user, policy.VIEW_RETENTION)


def tombstone(session: Session, serial: str, user: User | None, tz: ZoneInfo) -> dict | None:
    """The destroyed letter's residual record as a plain dict, or None (no such destroyed
    letter, or a user who may not know it)."""
    # Only a well-formed serial is looked up: a malformed one is simply not found (404),
    # never a database refusal (a NUL character is bad input to the database layer).
    if not isinstance(serial, str) or not SERIAL_RE.match(serial) or not may_know(user):
        return None
    d = session.execute(select(DestroyedLetter).where(DestroyedLetter.serial == serial)).scalar_one_or_none()
    if d is None:
        return None
    batch = session.get(Batch, d.batch_id)
    cert = session.get(Certificate, d.certificate_id) if d.certificate_id else None
    return {
        "serial": d.serial, "status": "destroyed",
        "destroyed_on": d.destroyed_at.astimezone(tz).date().isoformat(),
        "batch": {"id": d.batch_id, "label": batch.label if batch else ""},
        "certificate": cert.number if cert else None,
        "stored_reason": d.stored_reason,
        "received_on": d.received_on.isoformat(), "stored_on": d.stored_on.isoformat(),
    }


def live_letters(session: Session, batch: Batch) -> int:
    """Letters of the batch that still exist (a batch without any has nothing left to hold)."""
    return session.execute(select(func.count(BatchLetter.id)).where(
        BatchLetter.batch_id == batch.id, BatchLetter.state.in_(_LIVE))).scalar_one()


def batch_is_spent(session: Session, batch: Batch) -> bool:
    return batch.state in ("destroyed", "certified") and live_letters(session, batch) == 0


