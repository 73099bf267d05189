"""Regions: the national list of administrative divisions (GB/T 2260), the bureau's
jurisdiction, and the look-ups the registration forms use.

The list ships with the code (``data/regions.tsv.gz``; its header names the source and its
date, ``data/make_regions.py`` rebuilds it) and is loaded into the ``regions`` table by
``load_national_list`` at ``xinfang init``. Every code a letter may carry is accepted:
current codes, retired ones (kept, pointing at their successor) and codes outside the
jurisdiction (accepted and marked, never refused).
"""
from __future__ import annotations

import gzip
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from sqlalchemy import insert, or_, select
from sqlalchemy.orm import Session

from records import audit
from records.reference import require_manager
from records.errors import FieldName, Msg, ValidationError
from records.reference.models import BureauProfile, Region

CODE = re.compile(r"\d{6}")
DATA_FILE = "regions.tsv.gz"


@dataclass(frozen=True)
class RegionRow:
    code: str
    level: int
    parent: str
    name: str
    name_hans: str
    successor: str
    retired_in: str


@lru_cache(maxsize=1)
def national_list() -> tuple[RegionRow, ...]:
    """The rows of the shipped data file (read once per process)."""
    raw = resources.files("records.reference.data").joinpath(DATA_FILE).read_bytes()
    rows = []
    for line in gzip.decompress(raw).decode("utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        code, level, parent, name, name_hans, successor, retired_in = line.split("\t")
        rows.append(RegionRow(code, int(level), parent, name, name_hans, successor, retired_in))
    return tuple(rows)


def source_note() -> str:
    """The data file's header (source and date), for the docs and the admin page."""
    raw = resources.files("records.reference.data").joinpath(DATA_FILE).read_bytes()
    head = [ln[2:] for ln in gzip.decompress(raw).decode("utf-8").splitlines()[:6] if ln.startswith("# ")]
    return "\n".join(head[:-1])


def load_national_list(session: Session) -> int:
    """Insert the codes of the national list that are missing and complete the rows an older
    instance made by hand (its names are kept); returns how many rows were added."""
    existing = {r.code: r for r in session.execute(select(Region)).scalars()}
    new = []
    for row in national_list():
        have = existing.get(row.code)
        values = {"level": row.level, "parent_code": row.parent or None, "name_hans": row.name_hans,
                  "successor_code": row.successor or None, "retired_in": row.retired_in or None}
        if have is None:
            new.append({"code": row.code, "name": row.name, **values})
        elif have.level == 0:
            for key, value in values.items():
                setattr(have, key, value)
    if new:
        session.execute(insert(Region), new)
    session.flush()
    return len(new)


# -- checking a code -------------------------------------------------------------------------


def problem(session: Session, code) -> str | None:
    """Why ``code`` cannot be put on a letter, or None (any known code: current, retired, anywhere)."""
    errors: dict[str, str] = {}   # literal messages in a dict: catalogued for translation
    if not isinstance(code, str) or not CODE.fullmatch(code):
        errors["region"] = "Must be a 6-digit region code (GB/T 2260)."
    elif session.get(Region, code) is None:
        errors["region"] = "Unknown region code: not in the national list of administrative divisions (GB/T 2260)."
    return errors.get("region")


def require(session: Session, code, field: str = "region") -> Region:
    """The region of ``code``; a ValidationError naming ``field`` when it is malformed or unknown."""
    why = problem(session, code)
    if why:
        why = Msg(why)
        raise ValidationError(Msg("%(filter)s: %(message)s", filter=FieldName(field), message=why), fields={field: why})
    return session.get(Region, code)


def current_of(session: Session, region: Region) -> Region:
    """The current region a retired one became (itself when current)."""
    seen = set()
    while region.retired and region.successor_code and region.code not in seen:
        seen.add(region.code)
        nxt = session.get(Region, region.successor_code)
        if nxt is None:
            break
        region = nxt
    return region


def ancestors(session: Session, region: Region) -> list[Region]:
    """The province, prefecture and the region itself, top first."""
    chain, seen = [region], {region.code}
    while chain[0].parent_code and chain[0].parent_code not in seen:
        parent = session.get(Region, chain[0].parent_code)
        if parent is None:
            break
        seen.add(parent.code)
        chain.insert(0, parent)
    return chain


def full_name(session: Session, region: Region, *, script: str = "hant") -> str:
    """"廣東省深圳市南山區": the region with its province and prefecture."""
    names = [(r.name_hans or r.name) if script == "hans" else r.name for r in ancestors(session, region)]
    out = []
    for n in names:  # a municipality's districts: 北京市 once, not 北京市市轄區
        if not out or n != out[-1]:
            out.append(n)
    return "".join(out)


# -- jurisdiction ---------------------------------------------------------------------------


def jurisdiction(session: Session) -> Region | None:
    code = session.execute(select(BureauProfile.jurisdiction_code).limit(1)).scalar_one_or_none()
    return session.get(Region, code) if code else None


def _prefix(region: Region) -> str:
    code = region.code
    return code[:2] if code.endswith("0000") else code[:4] if code.endswith("00") else code


def in_area(area: Region | None, code: str) -> bool:
    """Whether ``code`` lies in ``area`` (True when no area is set: nothing is outside)."""
    return area is None or code.startswith(_prefix(area))


def outside_jurisdiction(session: Session, code: str) -> bool:
    """A letter about ``code`` concerns a place outside the bureau's area (shown, never refused)."""
    area = jurisdiction(session)
    if area is None or in_area(area, code):
        return False
    region = session.get(Region, code)
    return not (region is not None and in_area(area, current_of(session, region).code))


def set_jurisdiction(session: Session, code: str, *, by=None, address: str = "") -> Region:
    """Make ``code`` the bureau's area (a current region; audited)."""
    require_manager(by)
    from records.reference.letterhead import ensure_profile

    region = require(session, code, "jurisdiction")
    if region.retired:
        why = Msg("Region %(code)s was retired; use %(successor)s.", code=code, successor=region.successor_code)
        raise ValidationError(Msg("%(filter)s: %(message)s", filter=FieldName("jurisdiction"), message=why),
                              fields={"jurisdiction": why})
    profile = ensure_profile(session)
    if profile.jurisdiction_code != code:
        old = profile.jurisdiction_code
        profile.jurisdiction_code = code
        session.flush()
        audit.record(session, "reference.jurisdiction", actor=by, address=address,
                     detail={"from": old, "to": code})
    return region


# -- look-ups ------------------------------------------------------------------------------------


def _to_hans(text: str) -> str:
    from records.reference.scripts import to_hans

    return to_hans(text)


def search(session: Session, query: str, *, limit: int = 20, include_retired: bool = True) -> list[Region]:
    """Regions whose code starts with ``query`` or whose name (either script) contains it; the
    jurisdiction's own first, then current before retired, then by code."""
    q = (query or "").strip()[:40]
    if not q:
        return []
    if q.isdigit():
        cond = Region.code.startswith(q)
    else:
        hans = _to_hans(q)
        cond = or_(Region.name.contains(q, autoescape=True), Region.name_hans.contains(hans, autoescape=True),
                  Region.name_hans.contains(q, autoescape=True))
    stmt = select(Region).where(cond)
    if not include_retired:
        stmt = stmt.where(Region.retired_in.is_(None))
    found = session.execute(stmt.order_by(Region.code).limit(400)).scalars().all()
    area = jurisdiction(session)
    found.sort(key=lambda r: (not in_area(area, r.code), r.retired, r.level, r.code))
    return found[:limit]


def choices(session: Session) -> list[Region]:
    """What a plain picker offers without a search: the jurisdiction's current regions (or the
    provinces and prefectures when no area is set)."""
    area = jurisdiction(session)
    stmt = select(Region).where(Region.retired_in.is_(None))
    if area is not None:
        stmt = stmt.where(Region.code.startswith(_prefix(area)))
    else:
        stmt = stmt.where(Region.level.in_((1, 2)))
    return list(session.execute(stmt.order_by(Region.code)).scalars())


def from_id_number(session: Session, id_number: str | None) -> Region | None:
    """The home region the first six digits of a resident ID number name (None when unknown)."""
    digits = (id_number or "").strip()[:6]
    if not CODE.fullmatch(digits):
        return None
    return session.get(Region, digits)


def as_dict(session: Session, region: Region) -> dict:
    area = jurisdiction(session)
    current = current_of(session, region)
    return {"code": region.code, "name": region.name, "name_hans": region.name_hans or region.name,
            "full_name": full_name(session, region), "full_name_hans": full_name(session, region, script="hans"),
            "level": region.level, "parent": region.parent_code, "retired": region.retired,
            "successor": region.successor_code, "current": current.code,
            "outside_jurisdiction": area is not None and not in_area(area, current.code)
            and not in_area(area, region.code)}
