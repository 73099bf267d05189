"""Separation of duties for role grants (MLPS 2.0 level 3, GB/T 22239-2019).

An account never holds ``admin`` with a role that reads letters or the audit trail
(``policy.role_conflict``). A grant of a privileged role (one that reads letters —
clerk, handler, leader, chief — or ``admin`` itself, so that an administrator cannot
make a second administrator to confirm its own requests) takes effect only when a second
person confirms it: the chief, or an administrator other than the one who asked. Both
the request and the decision are in the audit trail.

The operator's console (``xinfang users create``) is the set-up path: while the instance
has no active chief its grants take effect at once (the first chief is created so);
afterwards they wait like any other, and ``xinfang users confirm-grant`` confirms them with
the confirming person's password.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from records import audit, policy
from records.accounts import sessions
from records.accounts.models import RoleGrant, User
from records.db import utcnow
from records.errors import AccessDenied, Conflict, NotFound, ValidationError

PENDING = "pending"


def privileged_roles() -> frozenset[str]:
    """Roles whose grant needs a second person."""
    return policy.content_roles() | {"admin"}


def _has_active_chief(session: Session) -> bool:
    users = session.execute(select(User).where(User.active.is_(True), User.roles.like("%chief%"))).scalars()
    return any("chief" in u.role_set for u in users)


def needs_confirmation(session: Session, *, by: User | None, console: bool) -> bool:
    """Does a privileged grant asked by ``by`` (or the console) wait for a second person?
    Internal set-up (``by`` None, not the console: ``init``, the demo) never waits."""
    if by is not None:
        return True
    return console and _has_active_chief(session)


def pending(session: Session, user: User | None = None) -> list[RoleGrant]:
    """Grants waiting for confirmation (of ``user``, or all), oldest first."""
    q = select(RoleGrant).where(RoleGrant.state == PENDING)
    if user is not None:
        q = q.where(RoleGrant.user_id == user.id)
    return list(session.execute(q.order_by(RoleGrant.requested_at, RoleGrant.id)).scalars())


def split(session: Session, user: User | None, wanted: set[str], *, by: User | None,
          console: bool) -> tuple[set[str], set[str]]:
    """(roles held at once, roles that wait for confirmation) for an account that should
    hold ``wanted``. Refuses a combination no one may hold."""
    problem = policy.role_conflict(wanted)
    if problem:
        raise ValidationError(problem, fields={"roles": problem})
    held = set(user.role_set) if user is not None else set()
    added = (wanted - held) & privileged_roles()
    if not added or not needs_confirmation(session, by=by, console=console):
        return wanted, set()
    return wanted - added, added


def request(session: Session, user: User, roles: set[str], *, by: User | None) -> list[RoleGrant]:
    """Record grants of ``roles`` waiting for confirmation; earlier pending grants of roles
    no longer asked for are withdrawn."""
    out = []
    for grant in pending(session, user):
        if grant.role not in roles:
            grant.state, grant.decided_at, grant.decided_by_id = "withdrawn", utcnow(), by.id if by else None
    waiting = {g.role for g in pending(session, user)}
    for role in sorted(roles - waiting):
        grant = RoleGrant(user_id=user.id, role=role, requested_by_id=by.id if by else None)
        session.add(grant)
        out.append(grant)
    session.flush()
    if out:
        audit.record(session, "role_grant.request", actor=by, actor_name=None if by else "system",
                     target=user.username, detail={"roles": sorted(r.role for r in out),
                                                   "grants": [g.id for g in out]})
    return out


def get(session: Session, grant_id: int) -> RoleGrant:
    grant = session.get(RoleGrant, grant_id) if isinstance(grant_id, int) and 0 < grant_id < 2**31 else None
    if grant is None:
        raise NotFound("No such role grant.")
    return grant


def _check_decider(grant: RoleGrant, by: User) -> None:
    policy.require(by, policy.CONFIRM_GRANT)
    if grant.state != PENDING:
        raise Conflict("This grant was decided already.")
    if by.id == grant.user_id:
        raise AccessDenied("Nobody confirms a grant of their own roles.")
    if grant.requested_by_id is not None and by.id == grant.requested_by_id:
        raise AccessDenied("A second person confirms a grant: not the administrator who asked for it.")


def confirm(session: Session, grant: RoleGrant, *, by: User, address: str = "") -> User:
    """The second person confirms: the role takes effect and the account's sessions end."""
    _check_decider(grant, by)
    user = grant.user
    roles = set(user.role_set) | {grant.role}
    problem = policy.role_conflict(roles)
    if problem:
        raise ValidationError(problem, fields={"roles": problem})
    if roles & {"clerk", "handler"} and user.office_id is None:
        raise ValidationError("Clerks and handlers belong to an office: set the office first.",
                              fields={"office": "Required for this role."})
    user.roles = " ".join(sorted(roles))
    user.session_epoch += 1
    sessions.end_all(session, user, "roles")
    grant.state, grant.decided_by_id, grant.decided_at = "confirmed", by.id, utcnow()
    session.flush()
    audit.record(session, "role_grant.confirm", actor=by, target=user.username, address=address,
                 detail={"role": grant.role, "grant": grant.id,
                         "requested_by": grant.requested_by.username if grant.requested_by else "system"})
    return user


def refuse(session: Session, grant: RoleGrant, *, by: User, address: str = "") -> None:
    _check_decider(grant, by)
    grant.state, grant.decided_by_id, grant.decided_at = "refused", by.id, utcnow()
    session.flush()
    audit.record(session, "role_grant.refuse", actor=by, target=grant.user.username, address=address,
                 detail={"role": grant.role, "grant": grant.id})
