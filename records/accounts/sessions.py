"""Server-side sign-in sessions: the browser's cookie holds a random id, this table holds
its hash. Ending a row ends the session wherever the cookie was copied to; sign-out,
a password change, deactivation, a change of roles and a second-factor reset end them."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from records import audit
from records.accounts.models import User, UserSession
from records.db import utcnow
from records.errors import NotFound
from records.instance import is_read_only, write_after_read

#: How often the last-seen time of a session is written (not on every click).
TOUCH_EVERY = dt.timedelta(seconds=60)
#: Why a session ended (``UserSession.end_reason``).
REASONS = ("logout", "password", "deactivated", "roles", "second_factor", "ended_by_user", "expired")


def _hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def start(session: Session, user: User, *, address: str = "", user_agent: str = "") -> str:
    """Open a session for ``user``; return the id the cookie carries (only its hash is stored)."""
    raw = secrets.token_urlsafe(32)
    session.add(UserSession(user_id=user.id, token_hash=_hash(raw), address=(address or "")[:64],
                            user_agent=(user_agent or "")[:200]))
    session.flush()
    return raw


def find(session: Session, raw: str) -> UserSession | None:
    """The open session whose id the cookie carries, else None (ended, unknown, malformed);
    the last-seen time is refreshed at most once a minute, after the read."""
    if not isinstance(raw, str) or not 20 <= len(raw) <= 100:
        return None
    row = session.execute(select(UserSession).where(UserSession.token_hash == _hash(raw))).scalar_one_or_none()
    if row is None or row.ended_at is not None:
        return None
    now = utcnow()
    if now - row.last_seen_at >= TOUCH_EVERY:
        row_id = row.id
        write_after_read(session, lambda w: w.execute(
            update(UserSession).where(UserSession.id == row_id, UserSession.ended_at.is_(None))
            .values(last_seen_at=now)))
    return row


def end(session: Session, raw: str, reason: str) -> None:
    """End the session whose id the cookie carries (sign-out, expiry)."""
    if not isinstance(raw, str):
        return
    stmt = update(UserSession).where(UserSession.token_hash == _hash(raw), UserSession.ended_at.is_(None)) \
        .values(ended_at=utcnow(), end_reason=reason)
    if is_read_only(session):  # an expiry noticed by a GET: written when the read ends
        write_after_read(session, lambda w: w.execute(stmt))
    else:
        session.execute(stmt)


def end_all(session: Session, user: User, reason: str, *, keep: int | None = None) -> int:
    """End every open session of ``user`` (but ``keep``); return how many ended."""
    cond = [UserSession.user_id == user.id, UserSession.ended_at.is_(None)]
    if keep is not None:
        cond.append(UserSession.id != keep)
    result = session.execute(update(UserSession).where(*cond).values(ended_at=utcnow(), end_reason=reason))
    return result.rowcount or 0


def open_sessions(session: Session, user: User) -> list[UserSession]:
    """The user's open sessions, most recently used first."""
    return list(session.execute(select(UserSession).where(UserSession.user_id == user.id,
                                                          UserSession.ended_at.is_(None))
                                .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())).scalars())


def end_one(session: Session, user: User, session_id: int, *, address: str = "") -> None:
    """``user`` ends one of their own sessions (a browser left signed in elsewhere)."""
    row = session.get(UserSession, session_id) if isinstance(session_id, int) and 0 < session_id < 2**31 else None
    if row is None or row.user_id != user.id or row.ended_at is not None:
        raise NotFound("No such open session.")
    row.ended_at = utcnow()
    row.end_reason = "ended_by_user"
    session.flush()
    audit.record(session, "session.end", actor=user, target=user.username, address=address,
                 detail={"session": row.id})


def end_others(session: Session, user: User, current: UserSession | None, *, address: str = "") -> int:
    """``user`` ends every session but the one in use."""
    n = end_all(session, user, "ended_by_user", keep=current.id if current is not None else None)
    audit.record(session, "session.end_others", actor=user, target=user.username, address=address,
                 detail={"count": n})
    return n
