"""Seeding a new instance's reference data: the national list of regions, the offices and
external units of the chosen preset, its categories, the official calendar of the years
``chinesecalendar`` knows, the letterhead and the jurisdiction.

Presets: ``labour`` (a municipal bureau of human resources and social security, the
instance this project started with: its offices and categories), ``science-tech`` (the
bureau of the seed regulations) and ``general``.

``ensure_reference_data`` only adds what is missing, so it is safe to run on every start-up
or ``xinfang init``; it flushes and leaves the commit to the unit of work.
"""
from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from records.errors import ValidationError
from records.settings import INTAKE_OFFICE_CODE
from records.reference import calendar, categories, letterhead, regions
from records.reference.models import Category, Office


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

#: A science and technology bureau (the seed regulations' Art 5: its offices and the
#: county/district science bureaus matters are transferred to).
SCIENCE_TECH_OFFICES: tuple[OfficeSpec, ...] = (
    OfficeSpec(INTAKE_OFFICE_CODE, "信訪辦公室", is_intake=True),
    OfficeSpec("KYGL", "科研項目管理處"),
    OfficeSpec("CGZH", "成果轉化處"),
    OfficeSpec("ZSCQ", "知識產權處"),
    OfficeSpec("ZCFG", "政策法規處"),
    OfficeSpec("JJJC", "紀檢監察室"),
    OfficeSpec("RSK", "人事處"),
    OfficeSpec("EXT-HD", "海淀區科學技術局", is_external=True),
    OfficeSpec("EXT-CY", "朝陽區科學技術局", is_external=True),
    OfficeSpec("EXT-DC", "東城區科學技術局", is_external=True),
)
GENERAL_OFFICES: tuple[OfficeSpec, ...] = (
    OfficeSpec(INTAKE_OFFICE_CODE, "信訪辦公室", is_intake=True),
    OfficeSpec("BGS", "辦公室"),
    OfficeSpec("ZCFG", "政策法規科"),
    OfficeSpec("JJJC", "紀檢監察室"),
)
OFFICE_PRESETS = {"labour": OFFICES, "science-tech": SCIENCE_TECH_OFFICES, "general": GENERAL_OFFICES}
PRESETS = tuple(OFFICE_PRESETS)
#: The regions the seeded external units cover.
UNIT_REGIONS = {"EXT-HD": ("110108",), "EXT-CY": ("110105",), "EXT-DC": ("110101",)}
#: The letterhead a new instance starts with, per preset (science-tech: ``letterhead.DEFAULT``).
LETTERHEADS = {
    "labour": {"bureau_name": "某市人力資源和社會保障局", "issuing_office": "某市人力資源和社會保障局信訪辦公室",
               "superior_body": "某省人力資源和社會保障廳", "number_pattern": "X人社信〔{year}〕{seq}號",
               "signature_block": "某市人力資源和社會保障局信訪辦公室"},
    "general": {"bureau_name": "某市某局", "issuing_office": "某市某局信訪辦公室", "superior_body": "某省某廳",
                "number_pattern": "X信〔{year}〕{seq}號", "signature_block": "某市某局信訪辦公室"},
}
#: The jurisdiction of a new instance unless ``--jurisdiction`` says otherwise.
DEFAULT_JURISDICTION = "110000"


def ensure_offices(session: Session, specs: tuple[OfficeSpec, ...]) -> int:
    """Add the offices of ``specs`` that are missing (by code); returns how many were added."""
    from records.reference.models import UnitRegion

    added = 0
    existing = {o.code: o for o in session.execute(select(Office)).scalars()}
    have_intake = any(o.is_intake for o in existing.values())
    for spec in specs:
        if spec.code in existing:
            continue
        is_intake = spec.is_intake and not have_intake
        office = Office(code=spec.code, name=spec.name, is_intake=is_intake, is_external=spec.is_external,
                        active=True)
        office.regions = [UnitRegion(region_code=c) for c in UNIT_REGIONS.get(spec.code, ())]
        session.add(office)
        have_intake = have_intake or is_intake
        added += 1
    if added:
        session.flush()
    return added


def ensure_reference_data(session: Session, *, preset: str | None = None, jurisdiction: str | None = None) -> int:
    """Insert what is missing (regions, the preset's offices and categories, the calendar
    years the package knows, the letterhead, the jurisdiction); return how many rows were added.

    ``preset`` is only used for an instance that has no categories yet (a new one; an older
    one was given the "labour" vocabulary by its migration); ``jurisdiction`` changes the
    bureau's area when given, else a new instance gets Beijing (110000). Existing rows are
    left as they are (an administrator may have renamed them). The intake flag is only given
    to the intake office when no other office is the intake already, so there is never more
    than one."""
    if preset is not None and preset not in OFFICE_PRESETS:
        raise ValidationError(f"Unknown preset {preset!r}; use one of: {', '.join(PRESETS)}.",
                              fields={"preset": "Unknown preset."})
    added = regions.load_national_list(session)
    has_vocabulary = session.execute(select(Category.id).limit(1)).first() is not None
    chosen = preset or "labour"
    if not has_vocabulary:
        added += categories.apply_preset(session, chosen)
    has_offices = session.execute(select(Office.id).limit(1)).first() is not None
    added += ensure_offices(session, OFFICE_PRESETS[chosen] if not has_offices else OFFICES[:1])
    added += len(calendar.seed_from_package(session))
    profile = letterhead.ensure_profile(session, LETTERHEADS.get(chosen))
    if jurisdiction is not None:
        regions.set_jurisdiction(session, jurisdiction)
    elif profile.jurisdiction_code is None:
        profile.jurisdiction_code = DEFAULT_JURISDICTION
    session.flush()
    return added
