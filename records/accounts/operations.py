"""Accounts: users with roles and an office, Argon2 passwords, API tokens, sign-in."""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from records import audit, policy
from records.reference.vocab import ROLES
from records.errors import Conflict, NotFound, ValidationError
from records.instance import write_after_read
from records.accounts.models import ApiToken, User
from records.reference.models import Office
from records.db import utcnow

_hasher = PasswordHasher()
_dummy_hash: str | None = None


def use_hasher(hasher: PasswordHasher) -> None:
    """Swap the Argon2 parameters. Production keeps argon2-cffi's defaults (RFC 9106 low-memory
    profile); the test suite installs cheap ones so that thousands of sign-ins stay fast."""
    global _hasher, _dummy_hash
    _hasher = hasher
    _dummy_hash = None


def _dummy_password_hash() -> str:
    """A hash to verify against when the user does not exist, so timing does not tell."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("xinfang-dummy-password")
    return _dummy_hash

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
    if by is not None:
        policy.require(by, policy.MANAGE_USERS)
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


def update_user(session: Session, user: User, *, roles: list[str] | tuple[str, ...], office: str | None,
                oversees: list[str] | tuple[str, ...] = (), display_name: str | None = None,
                by: User | None = None) -> User:
    """Change an account's roles, office, oversight and name (an administrator's act, audited).
    A change of roles or office ends the user's open sessions."""
    if by is not None:
        policy.require(by, policy.MANAGE_USERS)
    fields = {}
    bad = [r for r in roles if r not in ROLES]
    if not roles or bad:
        fields["roles"] = "Choose one or more of: " + ", ".join(ROLES) + "."
    if set(roles) & {"clerk", "handler"} and not office:
        fields["office"] = "Required for this role."
    if oversees and not set(roles) & {"leader", "chief"}:
        fields["oversees"] = "Only for leaders and the chief."
    if by is not None and user.id == by.id and "admin" not in roles:
        fields["roles"] = "You cannot remove your own administrator role."
    if display_name is not None and not (1 <= len(display_name.strip()) <= 200):
        fields["display_name"] = "1 to 200 characters."
    if fields:
        raise ValidationError("The account cannot be changed.", fields=fields)
    before = {"roles": user.roles, "office": user.office.code if user.office else None,
              "oversees": sorted(o.code for o in user.overseen)}
    new_office = get_office(session, office) if office else None
    user.roles = " ".join(sorted(set(roles)))
    user.office = new_office
    user.office_id = new_office.id if new_office else None
    user.overseen = [get_office(session, c) for c in oversees]
    if display_name is not None:
        user.display_name = display_name.strip()
    after = {"roles": user.roles, "office": office or None, "oversees": sorted(oversees)}
    if (before["roles"], before["office"]) != (after["roles"], after["office"]):
        user.session_epoch += 1
    session.flush()
    audit.record(session, "user.update", actor=by, actor_name=None if by else "system", target=user.username,
                 detail={"before": before, "after": after})
    return user


def generate_password() -> str:
    """A strong one-time password an administrator hands over (shown once, never stored)."""
    return secrets.token_urlsafe(15)


def set_password(session: Session, user: User, password: str, *, by: User | None = None) -> None:
    if by is not None and by.id != user.id:
        policy.require(by, policy.MANAGE_USERS)
    check_password_policy(password)
    user.password_hash = _hasher.hash(password)
    user.session_epoch += 1
    audit.record(session, "user.password", actor=by, actor_name=None if by else "system", target=user.username)


def set_active(session: Session, user: User, active: bool, *, by: User | None = None) -> None:
    if by is not None:
        policy.require(by, policy.MANAGE_USERS)
        if by.id == user.id and not active:
            raise ValidationError("You cannot deactivate your own account.")
    user.active = active
    user.session_epoch += 1
    audit.record(session, "user.activate" if active else "user.deactivate", actor=by,
                 actor_name=None if by else "system", target=user.username)


def authenticate(session: Session, username: str, password: str, *, address: str = "") -> User | None:
    """Check a password; every attempt, good or bad, is audited. Repeated failures lock the
    account and the address with back-off (``lockout.Locked``, raised before any check)."""
    from records.accounts import lockout

    wait = lockout.locked_for(session, username, address)
    if wait:
        raise lockout.Locked(wait, audit={
            "action": "login.locked", "actor_id": None,
            "actor_name": (username or "")[:64] if isinstance(username, str) else "",
            "address": address, "detail": {"retry_after": wait}})
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none() \
        if isinstance(username, str) and len(username) <= 64 else None
    ok = False
    try:
        ok = _hasher.verify(user.password_hash if user else _dummy_password_hash(), password or "") and user is not None
    except (VerificationError, InvalidHashError):
        ok = False
    if ok and not user.active:
        ok = False
    if ok:
        if _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = _hasher.hash(password)
        user.last_login_at = utcnow()
        lockout.clear_account(session, username)
        audit.record(session, "login.success", actor=user, address=address)
        return user
    locked = lockout.register_failure(session, username, address)
    audit.record(session, "login.failure", actor=None, actor_name=(username or "")[:64] if isinstance(username, str) else "",
                 address=address, detail={"known_user": user is not None, "locked_for": locked})
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
        token_id = row.id
        write_after_read(session, lambda w: w.execute(
            update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now)))
    return row.user


def revoke_token(session: Session, user: User, prefix: str, *, by: User | None = None) -> int:
    rows = session.execute(select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.prefix == prefix,
                                                  ApiToken.revoked_at.is_(None))).scalars().all()
    for row in rows:
        row.revoked_at = utcnow()
    audit.record(session, "token.revoke", actor=by or user, target=user.username,
                 detail={"prefix": prefix, "count": len(rows)})
    return len(rows)
