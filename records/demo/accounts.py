"""Demo accounts: one per role, with random passwords returned once (nothing printed)."""
from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from records.accounts import operations as accounts
from records.accounts.models import User
from records.errors import ValidationError
from records.reference.seed import (
    OFFICES,
    ensure_offices,
    ensure_reference_data,
)
from records.settings import INTAKE_OFFICE_CODE


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    roles: tuple[str, ...]
    office: str | None = None
    oversees: tuple[str, ...] = ()
    #: What the account is for in a demonstration.
    purpose: str = ""


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("clerk", "登記員 張敏", ("clerk",), office=INTAKE_OFFICE_CODE,
             purpose="registers letters and visits; reads what they registered"),
    DemoUser("handler", "承辦人 李強", ("handler",), office="LDJC",
             purpose="handles records held by the labour inspection office"),
    DemoUser("handler2", "承辦人 陳靜", ("handler",), office="SHBX",
             purpose="a handler of another office: refused records held by LDJC"),
    DemoUser("leader", "劉副局長", ("leader",), oversees=("LDJC", "SHBX"),
             purpose="deputy director overseeing LDJC and SHBX (and the intake)"),
    DemoUser("chief", "王局長", ("chief",),
             purpose="director: sees every record"),
    DemoUser("archivist", "檔案員 周慧", ("archivist",), office=INTAKE_OFFICE_CODE,
             purpose="keeps the ledger; no letter content"),
    DemoUser("inspector", "督查員 吳剛", ("inspector",), office="JJJC",
             purpose="reads the audit trail and the ledger"),
    DemoUser("admin", "系統管理員 鄭偉", ("admin",),
             purpose="manages accounts only"),
)


def _new_password() -> str:
    while True:
        password = secrets.token_urlsafe(12)
        try:
            accounts.check_password_policy(password)
        except ValidationError:
            continue
        return password


def create_demo_users(session: Session) -> dict[str, str]:
    """Create the demo accounts that do not exist yet, each with a fresh random password;
    return ``{username: password}`` of the accounts created (shown once, stored hashed)."""
    ensure_reference_data(session)
    # the demo's handlers work in two offices of the labour preset: added when the preset lacks them
    needed = {spec.office for spec in DEMO_USERS if spec.office} | {o for spec in DEMO_USERS for o in spec.oversees}
    ensure_offices(session, tuple(o for o in OFFICES if o.code in needed))
    existing = set(session.execute(select(User.username)).scalars())
    created: dict[str, str] = {}
    for spec in DEMO_USERS:
        if spec.username in existing:
            continue
        password = _new_password()
        accounts.create_user(session, spec.username, password, list(spec.roles), office=spec.office,
                             display_name=spec.display_name, oversees=list(spec.oversees))
        created[spec.username] = password
    return created
