"""Accounts: users with roles and an office, Argon2 passwords, API tokens, sign-in."""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit, policy
from .catalog import ROLES
from .errors import Conflict, NotFound, ValidationError
from .models import ApiToken, Office, User, utcnow

_hasher = PasswordHasher()
#: A hash to verify against when the user does not exist, so timing does not tell.
_DUMMY_HASH = _hasher.hash("xinfang-dummy-password")

MIN_PASSWORD = 10
TOKEN_PREFIX = "xf_"


def check_password_policy(password: str) -> None:
    problems = []
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        problems.append(f"at least {MIN_PASSWORD} characters")
    elif len(password) > 256:
        problems.append("at most 256 characters")
    elif len(set(password)) < 4:
        problems.append("at least 4 different characters")
    if problems:
        raise ValidationError("The password is too weak: " + ", ".join(problems) + ".",
                              fields={"password": "; ".join(problems)})


def get_user(session: Session, username: str) -> User:
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise NotFound(f"No user named {username!r}.")
    return user


def get_office(session: Session, code: str) -> Office:
    office = session.execute(select(Office).where(Office.code == code)).scalar_one_or_none()
    if office is None:
        raise NotFound(f"No office with code {code!r}.")
    return office


def create_user(session: Session, username: str, password: str, roles: list[str] | tuple[str, ...], *,
                office: str | None = None, display_name: str | None = None,
                oversees: list[str] | tuple[str, ...] = (), by: User | None = None) -> User:
    """Create an account; ``by`` is the administrator (None for the CLI and set-up)."""
    fields = {}
    if not re.fullmatch(r"[a-z][a-z0-9_.-]{1,63}", username or ""):
        fields["username"] = "2–64 characters: lower-case letters, digits, '_', '.', '-', starting with a letter."
    bad = [r for r in roles if r not in ROLES]
    if not roles or bad:
        fields["roles"] = "Choose one or more of: " + ", ".join(ROLES) + "."
    if fields:
        raise ValidationError("The account cannot be created.", fields=fields)
    check_password_policy(password)
    if session.execute(select(User.id).where(User.username == username)).first():
        raise Conflict(f"A user named {username!r} exists already.")
    if set(roles) & {"clerk", "handler"} and not office:
        raise ValidationError("Clerks and handlers belong to an office.", fields={"office": "Required for this role."})
    user = User(username=username, display_name=display_name or username,
                password_hash=_hasher.hash(password), roles=" ".join(sorted(set(roles))),
                office=get_office(session, office) if office else None)
    if oversees and not set(roles) & {"leader", "chief"}:
        raise ValidationError("Only leaders and the chief oversee offices.",
                              fields={"oversees": "Only for leaders and the chief."})
    user.overseen = [get_office(session, c) for c in oversees]
    session.add(user)
    session.flush()
    audit.record(session, "user.create", actor=by, actor_name=None if by else "system",
                 target=username, detail={"roles": sorted(set(roles)), "office": office,
                                          "oversees": sorted(oversees)})
    return user


def set_password(session: Session, user: User, password: str, *, by: User | None = None) -> None:
    check_password_policy(password)
    user.password_hash = _hasher.hash(password)
    user.session_epoch += 1
    audit.record(session, "user.password", actor=by, actor_name=None if by else "system", target=user.username)


def set_active(session: Session, user: User, active: bool, *, by: User | None = None) -> None:
    user.active = active
    user.session_epoch += 1
    audit.record(session, "user.activate" if active else "user.deactivate", actor=by,
                 actor_name=None if by else "system", target=user.username)


def authenticate(session: Session, username: str, password: str, *, address: str = "") -> User | None:
    """Check a password; every attempt, good or bad, is audited."""
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none() \
        if isinstance(username, str) and len(username) <= 64 else None
    ok = False
    try:
        ok = _hasher.verify(user.password_hash if user else _DUMMY_HASH, password or "") and user is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if ok and not user.active:
        ok = False
    if ok:
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
        user.last_login_at = utcnow()
        audit.record(session, "login.success", actor=user, address=address)
        return user
    audit.record(session, "login.failure", actor=None, actor_name=(username or "")[:64] if isinstance(username, str) else "",
                 address=address, detail={"known_user": user is not None})
    return None


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: User, *, label: str = "", days: int | None = 365,
                by: User | None = None) -> str:
    """Create an API token and return it; only its hash is stored, so it is shown once."""
    if not policy.can(user, policy.USE_API):
        raise ValidationError("This account may not use the API.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = utcnow() + dt.timedelta(days=days) if days else None
    session.add(ApiToken(user_id=user.id, token_hash=_hash_token(token), prefix=token[:10],
                         label=label[:200], expires_at=expires))
    session.flush()
    audit.record(session, "token.issue", actor=by or user, target=user.username,
                 detail={"prefix": token[:10], "expires_at": expires.isoformat() if expires else None})
    return token


def user_for_token(session: Session, token: str) -> User | None:
    if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    row = session.execute(select(ApiToken).where(ApiToken.token_hash == _hash_token(token))).scalar_one_or_none()
    now = utcnow()
    if row is None or row.revoked_at or (row.expires_at and row.expires_at <= now) or not row.user.active:
        return None
    if row.last_used_at is None or now - row.last_used_at > dt.timedelta(minutes=5):
        row.last_used_at = now
    return row.user


def revoke_token(session: Session, user: User, prefix: str, *, by: User | None = None) -> int:
    rows = session.execute(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.prefix == prefix,
                                                  ApiToken.revoked_at.is_(None))).scalars().all()
    for row in rows:
        row.revoked_at = utcnow()
    audit.record(session, "token.revoke", actor=by or user, target=user.username,
                 detail={"prefix": prefix, "count": len(rows)})
    return len(rows)
