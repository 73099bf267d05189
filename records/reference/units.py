"""The bureau's internal offices and the external units (county and district departments)
matters are transferred to, with the regions each unit covers.

A unit in use (staff in it, records assigned or transferred to it) is deactivated, never
deleted: the records keep naming it, it is no longer offered. Services flush; the unit of
work commits; every change is audited.
"""
from __future__ import annotations

import re

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from records import audit
from records.reference import require_manager
from records.errors import Conflict, Msg, NotFound, Quoted, ValidationError, details as _details
from records.reference import regions as regions_mod
from records.reference.models import Office, UnitRegion

CODE = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,31}")


def get(session: Session, code: str) -> Office:
    office = session.execute(select(Office).where(Office.code == code)).scalar_one_or_none()
    if office is None:
        raise NotFound(Msg("No office or unit %(code)s.", code=Quoted(code)))
    return office


def all_units(session: Session, *, external: bool | None = None, active_only: bool = False) -> list[Office]:
    stmt = select(Office).options(selectinload(Office.regions)).order_by(Office.is_external, Office.code)
    if external is not None:
        stmt = stmt.where(Office.is_external.is_(external))
    if active_only:
        stmt = stmt.where(Office.active.is_(True))
    return list(session.execute(stmt).scalars())


def for_region(session: Session, code: str) -> list[Office]:
    """The active external units covering ``code`` (or an area containing it), nearest first."""
    prefixes = {code, code[:4] + "00", code[:2] + "0000"}
    stmt = (select(Office).join(UnitRegion).where(Office.active.is_(True), Office.is_external.is_(True),
                                                  UnitRegion.region_code.in_(prefixes))
            .order_by(UnitRegion.region_code.desc(), Office.code))
    seen, out = set(), []
    for office in session.execute(stmt).scalars():
        if office.id not in seen:
            seen.add(office.id)
            out.append(office)
    return out


def in_use(session: Session, office: Office) -> dict[str, int]:
    from records.accounts.models import User
    from records.models import Record

    users = session.execute(select(func.count()).select_from(User).where(User.office_id == office.id)).scalar_one()
    records = session.execute(select(func.count()).select_from(Record).where(
        or_(Record.office_id == office.id, Record.transferred_unit == office.code))).scalar_one()
    return {"users": users, "records": records}


def _region_codes(session: Session, raw, errors: dict) -> list[str] | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = [c for c in re.split(r"[\s,，、]+", raw) if c]
    if not isinstance(raw, (list, tuple)):
        errors["regions"] = "A list of region codes."
        return None
    bad = []
    for code in raw:
        why = regions_mod.problem(session, code)
        if why:
            bad.append(f"{str(code)[:12]}: {why}")
    if bad:
        errors["regions"] = "; ".join(bad[:5])
    return sorted(set(raw))


def _name(values: dict, errors: dict, *, required: bool) -> str | None:
    name = values.get("name")
    if name is None:
        if required:
            errors["name"] = "Required."
        return None
    if not isinstance(name, str) or not name.strip() or len(name.strip()) > 200 or "\x00" in name:
        errors["name"] = "1-200 characters of text."
        return None
    return name.strip()


def add(session: Session, values: dict, *, by=None, address: str = "") -> Office:
    """A new internal office or (``external``: true) external unit, with the regions it covers."""
    require_manager(by)
    errors: dict[str, str] = {}
    code = values.get("code")
    if not isinstance(code, str) or not CODE.fullmatch(code):
        errors["code"] = "1-32 characters: capital letters, digits, - and _."
    elif session.execute(select(Office.id).where(Office.code == code)).first():
        errors["code"] = Msg("Office or unit %(code)s exists already.", code=Quoted(code))
    name = _name(values, errors, required=True)
    external = values.get("external", False)
    if not isinstance(external, bool):
        errors["external"] = "true or false."
    codes = _region_codes(session, values.get("regions"), errors)
    if codes and not external:
        errors["regions"] = "Only an external unit covers regions."
    if errors:
        raise ValidationError(Msg("The unit was not added: %(why)s", why=_details(errors)), fields=errors)
    office = Office(code=code, name=name, is_external=external, is_intake=False, active=True)
    office.regions = [UnitRegion(region_code=c) for c in codes or []]
    session.add(office)
    session.flush()
    audit.record(session, "reference.unit.add", actor=by, address=address, target=code,
                 detail={"external": external, "regions": codes or []})
    return office


def change(session: Session, code: str, values: dict, *, by=None, address: str = "") -> Office:
    """Rename, change the regions covered, deactivate or reactivate (``active``) an office or unit."""
    require_manager(by)
    office = get(session, code)
    unknown = sorted(set(values) - {"name", "regions", "active"})
    errors: dict[str, str] = {k: "Unknown field (a code and kind cannot change)." for k in unknown}
    name = _name(values, errors, required=False)
    codes = _region_codes(session, values.get("regions"), errors)
    if codes and not office.is_external:
        errors["regions"] = "Only an external unit covers regions."
    if "active" in values:
        if not isinstance(values["active"], bool):
            errors["active"] = "true or false."
        elif not values["active"] and office.is_intake:
            errors["active"] = "The intake office cannot be deactivated: every letter starts there."
    if errors:
        raise ValidationError(Msg("The unit was not changed: %(why)s", why=_details(errors)), fields=errors)
    changed: dict = {}
    if name is not None and name != office.name:
        office.name = name
        changed["name"] = True
    if codes is not None and codes != office.region_codes:
        office.regions = [UnitRegion(region_code=c) for c in codes]
        changed["regions"] = codes
    if "active" in values and values["active"] != office.active:
        office.active = values["active"]
        changed["active"] = office.active
    session.flush()
    if changed:
        audit.record(session, "reference.unit.change", actor=by, address=address, target=code, detail=changed)
    return office


def remove(session: Session, code: str, *, by=None, address: str = "") -> None:
    """Delete an office or unit nothing refers to (one in use is deactivated instead: 409)."""
    require_manager(by)
    office = get(session, code)
    if office.is_intake:
        raise Conflict("The intake office cannot be removed.")
    use = in_use(session, office)
    if any(use.values()):
        raise Conflict(Msg("%(code)s is in use (%(users)s user(s), %(records)s record(s)): deactivate it instead; "
                           "it is never deleted.", code=code, users=use["users"], records=use["records"]))
    from records.accounts.models import LeaderOffice

    if session.execute(select(LeaderOffice).where(LeaderOffice.office_id == office.id)).first():
        raise Conflict(Msg("%(code)s is overseen by a leader: change the leader's offices first, or deactivate it.",
                           code=code))
    session.delete(office)
    session.flush()
    audit.record(session, "reference.unit.remove", actor=by, address=address, target=code)


def as_dict(office: Office, *, use: dict | None = None) -> dict:
    out = {"code": office.code, "name": office.name, "external": office.is_external, "intake": office.is_intake,
           "active": office.active, "regions": office.region_codes}
    if use is not None:
        out["in_use"] = use
    return out
