"""API tokens: named, scoped (``policy.TOKEN_SCOPES``), expiring (90 days unless told),
with a last-used time; listed and revoked from the account page and the CLI.

A role that must give a second factor at sign-in gets a token only once its second factor
is set up, and the ``lookup`` scope needs a second factor in any case: a token must not be
the way around it. Only a SHA-256 of a token is stored; the token is shown once."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from records import audit, policy
from records.accounts import totp
from records.accounts.models import ApiToken, User
from records.db import utcnow
from records.errors import AccessDenied, Msg, ValidationError
from records.instance import write_after_read

TOKEN_PREFIX = "xf_"
DEFAULT_DAYS = 90
MAX_DAYS = 365
#: How often the last-used time is written (not on every request).
TOUCH_EVERY = dt.timedelta(minutes=5)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _second_factor_ok(session: Session, user: User, second_factor_roles) -> tuple[bool, bool]:
    """(may have a token at all, may have the lookup scope)."""
    enrolled = totp.is_enrolled(session, user)
    required = totp.required_for(user, tuple(second_factor_roles))
    return (enrolled or not required), (enrolled or not tuple(second_factor_roles))


def issue(session: Session, user: User, *, name: str = "", scopes=None, days: int | None = DEFAULT_DAYS,
          by: User | None = None, second_factor_roles=totp.DEFAULT_REQUIRED_ROLES) -> str:
    """Create a token and return it (shown once). ``scopes`` None: every scope the account's
    roles use (``lookup`` only with a second factor). ``second_factor_roles``: the roles
    this instance asks a second factor of at sign-in."""
    if not policy.can(user, policy.USE_API):
        raise ValidationError("This account may not use the API.")
    may_have, may_look_up = _second_factor_ok(session, user, second_factor_roles)
    if not may_have:
        raise AccessDenied("Set up the second factor (sign in on the web once) before asking for an API token: "
                           "this account's role needs it.")
    usable = ["read"] + [s for s in policy.token_scopes_for(user) if s != "read"]
    if scopes is None:
        scopes = [s for s in usable if s not in policy.SECOND_FACTOR_SCOPES or may_look_up]
    scopes = sorted(set(scopes), key=list(policy.TOKEN_SCOPES).index) if all(
        s in policy.TOKEN_SCOPES for s in scopes) else None
    if not scopes:
        raise ValidationError(Msg("Choose one or more scopes: %(scopes)s.", scopes=", ".join(policy.TOKEN_SCOPES)),
                              fields={"scopes": "Unknown or missing scope."})
    unusable = [s for s in scopes if s not in usable]
    if unusable:
        raise ValidationError(Msg("This account's roles give no use to the scope(s): %(scopes)s.",
                                  scopes=", ".join(unusable)),
                              fields={"scopes": "Not for this account's roles."})
    if set(scopes) & policy.SECOND_FACTOR_SCOPES and not may_look_up:
        raise AccessDenied("The lookup scope needs a second factor: set it up (sign in on the web once) first.")
    if days is not None and not (isinstance(days, int) and 1 <= days <= MAX_DAYS):
        raise ValidationError(Msg("A token expires after 1 to %(n)s days.", n=MAX_DAYS),
                              fields={"days": Msg("1 to %(n)s.", n=MAX_DAYS)})
    name = " ".join((name or "").split())[:200]
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = utcnow() + dt.timedelta(days=days) if days else None
    session.add(ApiToken(user_id=user.id, token_hash=_hash(token), prefix=token[:10], label=name,
                         scopes=" ".join(scopes), expires_at=expires))
    session.flush()
    audit.record(session, "token.issue", actor=by or user, target=user.username,
                 detail={"prefix": token[:10], "name": name, "scopes": scopes,
                         "expires_at": expires.isoformat() if expires else None})
    return token


def find(session: Session, token: str) -> ApiToken | None:
    """The live token row (not expired, not revoked, its user active), else None."""
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    row = session.execute(select(ApiToken).where(ApiToken.token_hash == _hash(token))).scalar_one_or_none()
    now = utcnow()
    if row is None or row.revoked_at or (row.expires_at and row.expires_at <= now) or not row.user.active:
        return None
    if row.last_used_at is None or now - row.last_used_at > TOUCH_EVERY:
        token_id = row.id
        write_after_read(session, lambda w: w.execute(
            update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now)))
    return row


def scopes_of(row: ApiToken) -> frozenset[str]:
    return frozenset((row.scopes or "").split())


def listing(session: Session, user: User, *, include_ended: bool = False) -> list[ApiToken]:
    """The user's tokens, newest first (live ones only unless ``include_ended``)."""
    q = select(ApiToken).where(ApiToken.user_id == user.id)
    if not include_ended:
        q = q.where(ApiToken.revoked_at.is_(None))
    rows = session.execute(q.order_by(ApiToken.created_at.desc(), ApiToken.id.desc())).scalars().all()
    now = utcnow()
    return [r for r in rows if include_ended or not (r.expires_at and r.expires_at <= now)]


def revoke(session: Session, user: User, prefix: str, *, by: User | None = None, address: str = "") -> int:
    """Revoke ``user``'s live tokens starting with ``prefix`` (the 10 characters listed)."""
    if by is not None and by.id != user.id:
        policy.require(by, policy.MANAGE_USERS)
    rows = session.execute(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.prefix == prefix,
                                                  ApiToken.revoked_at.is_(None))).scalars().all() \
        if isinstance(prefix, str) and len(prefix) <= 16 else []
    for row in rows:
        row.revoked_at = utcnow()
    audit.record(session, "token.revoke", actor=by or user, actor_name=None if (by or user) else "system",
                 target=user.username, address=address, detail={"prefix": prefix[:16], "count": len(rows)})
    return len(rows)


def revoke_all(session: Session, user: User) -> int:
    """Revoke every live token of ``user`` (second-factor reset)."""
    rows = session.execute(select(ApiToken).where(ApiToken.user_id == user.id,
                                                  ApiToken.revoked_at.is_(None))).scalars().all()
    for row in rows:
        row.revoked_at = utcnow()
    return len(rows)
