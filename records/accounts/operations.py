"""Accounts: users with roles and an office, Argon2 passwords, API tokens, sign-in."""
from __future__ import annotations

import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from records import audit, policy
from records.reference.vocab import ROLES
from records.errors import Codes, Conflict, Msg, NotFound, Quoted, ValidationError
from records.accounts import grants, passwords, sessions, tokens, totp
from records.accounts.models import User
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

MIN_PASSWORD = passwords.MIN_PASSWORD
TOKEN_PREFIX = tokens.TOKEN_PREFIX


def check_password_policy(password: str, *, user_inputs: tuple[str, ...] | list[str] = ()) -> None:
    """Refuse a weak password, saying why (``records.accounts.passwords``)."""
    passwords.check(password, user_inputs=user_inputs)


def _inputs(username: str, display_name: str | None, office: str | None = None) -> list[str]:
    return [w for w in (username, display_name, office, "xinfang", "petition") if w]


def get_user(session: Session, username: str) -> User:
    user = session.execute(select(User).where(User.username == username)).scalar_one_or_none()
    if user is None:
        raise NotFound(Msg("No user named %(name)s.", name=Quoted(username)))
    return user


def get_office(session: Session, code: str) -> Office:
    office = session.execute(select(Office).where(Office.code == code)).scalar_one_or_none()
    if office is None:
        raise NotFound(Msg("No office with code %(code)s.", code=Quoted(code)))
    return office


def create_user(session: Session, username: str, password: str, roles: list[str] | tuple[str, ...], *,
                office: str | None = None, display_name: str | None = None,
                oversees: list[str] | tuple[str, ...] = (), by: User | None = None,
                console: bool = False) -> User:
    """Create an account; ``by`` is the administrator (None for the console and set-up).
    Privileged roles asked by an administrator (or the console, once a chief exists) wait
    for a second person's confirmation (``records.accounts.grants``)."""
    if by is not None:
        policy.require(by, policy.MANAGE_USERS)
    fields = {}
    if not re.fullmatch(r"[a-z][a-z0-9_.-]{1,63}", username or ""):
        fields["username"] = "2–64 characters: lower-case letters, digits, '_', '.', '-', starting with a letter."
    bad = [r for r in roles if r not in ROLES]
    if not roles or bad:
        fields["roles"] = Msg("Choose one or more of: %(codes)s.", codes=Codes(ROLES))
    if fields:
        raise ValidationError("The account cannot be created.", fields=fields)
    check_password_policy(password, user_inputs=_inputs(username, display_name, office))
    if session.execute(select(User.id).where(User.username == username)).first():
        raise Conflict(Msg("A user named %(name)s exists already.", name=Quoted(username)))
    if set(roles) & {"clerk", "handler"} and not office:
        raise ValidationError("Clerks and handlers belong to an office.", fields={"office": "Required for this role."})
    if oversees and not set(roles) & {"leader", "chief"}:
        raise ValidationError("Only leaders and the chief oversee offices.",
                              fields={"oversees": "Only for leaders and the chief."})
    now, waiting = grants.split(session, None, set(roles), by=by, console=console)
    user = User(username=username, display_name=display_name or username,
                password_hash=_hasher.hash(password), roles=" ".join(sorted(now)),
                office=get_office(session, office) if office else None)
    user.overseen = [get_office(session, c) for c in oversees]
    session.add(user)
    session.flush()
    audit.record(session, "user.create", actor=by, actor_name=None if by else "system",
                 target=username, detail={"roles": sorted(now), "office": office,
                                          "oversees": sorted(oversees), "awaiting": sorted(waiting)})
    grants.request(session, user, waiting, by=by)
    return user


def update_user(session: Session, user: User, *, roles: list[str] | tuple[str, ...], office: str | None,
                oversees: list[str] | tuple[str, ...] = (), display_name: str | None = None,
                by: User | None = None, console: bool = False) -> User:
    """Change an account's roles, office, oversight and name (an administrator's act, audited).
    A change of roles or office ends the user's open sessions; an added privileged role
    waits for a second person's confirmation."""
    if by is not None:
        policy.require(by, policy.MANAGE_USERS)
    fields = {}
    bad = [r for r in roles if r not in ROLES]
    if not roles or bad:
        fields["roles"] = Msg("Choose one or more of: %(codes)s.", codes=Codes(ROLES))
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
    now, waiting = grants.split(session, user, set(roles), by=by, console=console)
    new_office = get_office(session, office) if office else None
    user.roles = " ".join(sorted(now))
    user.office = new_office
    user.office_id = new_office.id if new_office else None
    user.overseen = [get_office(session, c) for c in oversees]
    if display_name is not None:
        user.display_name = display_name.strip()
    after = {"roles": user.roles, "office": office or None, "oversees": sorted(oversees)}
    if (before["roles"], before["office"], before["oversees"]) != (after["roles"], after["office"], after["oversees"]):
        user.session_epoch += 1
        sessions.end_all(session, user, "roles")
    session.flush()
    audit.record(session, "user.update", actor=by, actor_name=None if by else "system", target=user.username,
                 detail={"before": before, "after": after, "awaiting": sorted(waiting)})
    grants.request(session, user, waiting, by=by)
    return user


def generate_password() -> str:
    """A strong one-time password an administrator hands over (shown once, never stored)."""
    return secrets.token_urlsafe(15)


def set_password(session: Session, user: User, password: str, *, by: User | None = None) -> None:
    if by is not None and by.id != user.id:
        policy.require(by, policy.MANAGE_USERS)
    check_password_policy(password, user_inputs=_inputs(user.username, user.display_name,
                                                        user.office.code if user.office else None))
    user.password_hash = _hasher.hash(password)
    user.session_epoch += 1
    sessions.end_all(session, user, "password")
    audit.record(session, "user.password", actor=by, actor_name=None if by else "system", target=user.username)


def set_active(session: Session, user: User, active: bool, *, by: User | None = None) -> None:
    if by is not None:
        policy.require(by, policy.MANAGE_USERS)
        if by.id == user.id and not active:
            raise ValidationError("You cannot deactivate your own account.")
    if active:
        problem = policy.role_conflict(user.role_set)
        if problem:
            raise ValidationError(problem)
    user.active = active
    user.session_epoch += 1
    sessions.end_all(session, user, "deactivated")
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


def issue_token(session: Session, user: User, *, label: str = "", days: int | None = tokens.DEFAULT_DAYS,
                scopes=None, by: User | None = None, second_factor_roles=totp.DEFAULT_REQUIRED_ROLES) -> str:
    """Create an API token and return it once (``records.accounts.tokens.issue``)."""
    return tokens.issue(session, user, name=label, scopes=scopes, days=days, by=by,
                        second_factor_roles=second_factor_roles)


def user_for_token(session: Session, token: str) -> User | None:
    row = tokens.find(session, token)
    return row.user if row is not None else None


def revoke_token(session: Session, user: User, prefix: str, *, by: User | None = None) -> int:
    return tokens.revoke(session, user, prefix, by=by)
