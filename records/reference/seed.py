"""Reference data of a fictional municipal bureau of human resources and social security
(市人力資源和社會保障局): its offices, the external units it transfers to, and the Beijing
region codes used on records.

``ensure_reference_data`` only adds what is missing, so it is safe to run on every start-up
or ``xinfang init``; it flushes and leaves the commit to the unit of work.
"""
from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from records.settings import INTAKE_OFFICE_CODE
from records.reference.models import Office, Region


class OfficeSpec(NamedTuple):
    code: str
    name: str
    is_intake: bool = False
    is_external: bool = False


#: The intake (信訪辦公室) first, then the internal offices, then external units.
OFFICES: tuple[OfficeSpec, ...] = (
    OfficeSpec(INTAKE_OFFICE_CODE, "信訪辦公室", is_intake=True),
    OfficeSpec("LDJC", "勞動保障監察科"),
    OfficeSpec("SHBX", "社會保險科"),
    OfficeSpec("ZCFG", "政策法規科"),
    OfficeSpec("JJJC", "紀檢監察室"),
    OfficeSpec("RSK", "人事科"),
    OfficeSpec("EXT-HD", "海淀區人力資源和社會保障局", is_external=True),
    OfficeSpec("EXT-CY", "朝陽區人力資源和社會保障局", is_external=True),
    OfficeSpec("EXT-DC", "東城區人力資源和社會保障局", is_external=True),
)

#: The municipality itself.
MUNICIPALITY = ("110000", "北京市")

#: Districts (市轄區) with their administrative division codes.
DISTRICTS: tuple[tuple[str, str], ...] = (
    ("110101", "東城區"),
    ("110102", "西城區"),
    ("110105", "朝陽區"),
    ("110106", "豐臺區"),
    ("110107", "石景山區"),
    ("110108", "海淀區"),
    ("110109", "門頭溝區"),
    ("110111", "房山區"),
    ("110112", "通州區"),
    ("110113", "順義區"),
    ("110114", "昌平區"),
    ("110115", "大興區"),
)

REGIONS: tuple[tuple[str, str], ...] = (MUNICIPALITY, *DISTRICTS)


def ensure_reference_data(session: Session) -> int:
    """Insert the offices and regions that are missing; return how many rows were added.

    Existing rows are left as they are (an administrator may have renamed them). The intake
    flag is only given to the intake office when no other office is the intake already,
    so there is never more than one."""
    added = 0
    existing = {o.code: o for o in session.execute(select(Office)).scalars()}
    have_intake = any(o.is_intake for o in existing.values())
    for spec in OFFICES:
        if spec.code in existing:
            continue
        is_intake = spec.is_intake and not have_intake
        session.add(Office(code=spec.code, name=spec.name, is_intake=is_intake,
                           is_external=spec.is_external))
        have_intake = have_intake or is_intake
        added += 1
    known = set(session.execute(select(Region.code)).scalars())
    for code, name in REGIONS:
        if code not in known:
            session.add(Region(code=code, name=name))
            added += 1
    if added:
        session.flush()
    return added
