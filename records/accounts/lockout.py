"""Lockout with back-off after repeated failed sign-ins, per account and per address.

Counted in the database (``login_throttles``), so every process of the service agrees.
After ``threshold`` failures within ``WINDOW`` the key is locked for ``BASE_LOCK``, doubling
with each further failure up to ``MAX_LOCK``. A lock refuses the attempt before the password
is even checked. Unknown user names are counted like known ones, so a lock tells nothing
about which accounts exist. A successful sign-in clears the account's count (not the
address's: one good account must not reset the counter of an address guessing others).
"""
from __future__ import annotations

import datetime as dt
import math

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from records.errors import XinfangError
from records.accounts.models import LoginThrottle
from records.db import utcnow

ACCOUNT_THRESHOLD = 5
ADDRESS_THRESHOLD = 30
#: Failures further apart than this start a new count.
WINDOW = dt.timedelta(minutes=15)
BASE_LOCK = dt.timedelta(seconds=30)
MAX_LOCK = dt.timedelta(hours=1)


class Locked(XinfangError):
    """Too many failed sign-ins: refused until ``retry_after`` seconds have passed."""

    status = 429

    def __init__(self, retry_after: int, **kwargs):
        minutes = max(1, math.ceil(retry_after / 60))
        super().__init__(f"Too many failed sign-ins. Try again in {minutes} minute(s).", **kwargs)
        self.retry_after = retry_after


def _keys(username, address: str) -> list[tuple[str, str, int]]:
    keys = []
    if isinstance(username, str) and username.strip():
        keys.append(("user", username.strip().lower()[:64], ACCOUNT_THRESHOLD))
    if address:
        keys.append(("address", address[:64], ADDRESS_THRESHOLD))
    return keys


def locked_for(session: Session, username, address: str, *, now: dt.datetime | None = None) -> int:
    """Seconds until sign-in is allowed again for this account or address (0 = not locked)."""
    now = now or utcnow()
    wait = 0
    for kind, key, _ in _keys(username, address):
        row = session.get(LoginThrottle, (kind, key))
        if row is not None and row.locked_until and row.locked_until > now:
            wait = max(wait, math.ceil((row.locked_until - now).total_seconds()))
    return wait


def _row(session: Session, kind: str, key: str, now: dt.datetime) -> LoginThrottle:
    row = session.execute(select(LoginThrottle).where(LoginThrottle.kind == kind, LoginThrottle.key == key)
                          .with_for_update()).scalar_one_or_none()
    if row is None:
        try:
            with session.begin_nested():
                session.execute(insert(LoginThrottle).values(kind=kind, key=key, failures=0, last_failure_at=now))
        except IntegrityError:  # another process counted the first failure at the same moment
            pass
        row = session.execute(select(LoginThrottle).where(LoginThrottle.kind == kind, LoginThrottle.key == key)
                              .with_for_update()).scalar_one()
        session.refresh(row)
    return row


def lock_duration(failures: int, threshold: int) -> dt.timedelta | None:
    """The lock after ``failures`` failures: none below the threshold, then doubling."""
    if failures < threshold:
        return None
    return min(BASE_LOCK * (2 ** min(failures - threshold, 20)), MAX_LOCK)


def register_failure(session: Session, username, address: str, *, now: dt.datetime | None = None) -> int:
    """Count one failure for the account and the address; returns the longest lock now in force (s)."""
    now = now or utcnow()
    longest = 0
    for kind, key, threshold in _keys(username, address):
        row = _row(session, kind, key, now)
        if row.last_failure_at and now - row.last_failure_at > WINDOW and \
                not (row.locked_until and row.locked_until > now):
            row.failures = 0
        row.failures += 1
        row.last_failure_at = now
        lock = lock_duration(row.failures, threshold)
        if lock is not None:
            row.locked_until = now + lock
            longest = max(longest, int(lock.total_seconds()))
    session.flush()
    return longest


def clear_account(session: Session, username) -> None:
    """Forget the account's failures after a successful sign-in."""
    for kind, key, _ in _keys(username, ""):
        row = session.get(LoginThrottle, (kind, key))
        if row is not None:
            session.delete(row)
    session.flush()


def unlock(session: Session, username: str) -> bool:
    """An administrator lifts an account's lock (audited by the caller)."""
    row = session.get(LoginThrottle, ("user", username.strip().lower()[:64]))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True
