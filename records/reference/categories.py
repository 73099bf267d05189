"""The bureau's own vocabulary of issues (categories, with optional sub-categories).

Codes are stored on records and never change once used; names can be edited in either
script (the other is derived); a category in use is deactivated, never deleted. Presets seed
a new instance: ``science-tech`` (the bureau of the seed regulations, Art 4-5), ``labour``
(the former fixed list, kept by instances made before the vocabulary was data) and
``general``. Services flush; the unit of work commits; every change is audited.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from records import audit
from records.reference import require_manager
from records.errors import Conflict, Msg, NotFound, Quoted, ValidationError, details as _details
from records.reference.models import Category
from records.reference.scripts import to_hans, to_hant

CODE = re.compile(r"[a-z][a-z0-9_]{1,31}")


@dataclass(frozen=True)
class Preset:
    code: str
    name: str
    name_en: str
    parent: str | None = None


PRESETS: dict[str, tuple[Preset, ...]] = {
    # Art 5: research projects, technology transfer, awards, patents and IP; Art 4: staff,
    # retirees and families, complaints about the bureau's functions, the system's stability.
    "science-tech": (
        Preset("research_projects", "科研項目管理", "Research project management"),
        Preset("project_funding", "項目經費", "Project funding", "research_projects"),
        Preset("project_review", "立項評審與驗收", "Project review and acceptance", "research_projects"),
        Preset("tech_transfer", "科技成果轉化", "Technology transfer"),
        Preset("science_awards", "科技成果獎勵", "Science and technology awards"),
        Preset("patents_ip", "專利與知識產權", "Patents and intellectual property"),
        Preset("staff_retirees", "幹部職工及離退休人員", "Staff, retirees and their families"),
        Preset("bureau_functions", "對本局職能的投訴", "Complaints about the bureau's functions"),
        Preset("system_stability", "科技系統穩定", "Stability of the science and technology system"),
        Preset("policy_consultation", "政策諮詢", "Policy consultation"),
        Preset("staff_conduct", "幹部作風", "Staff conduct"),
        Preset("other", "其他", "Other"),
    ),
    "labour": (
        Preset("labour_wages", "勞動工資", "Labour and wages"),
        Preset("land_housing", "土地房屋", "Land and housing"),
        Preset("social_security", "社會保障", "Social security"),
        Preset("environment", "環境保護", "Environment"),
        Preset("law_enforcement", "執法監督", "Law enforcement"),
        Preset("staff_conduct", "幹部作風", "Staff conduct"),
        Preset("policy_consultation", "政策諮詢", "Policy consultation"),
        Preset("urban_management", "城市管理", "Urban management"),
        Preset("other", "其他", "Other"),
    ),
    "general": (
        Preset("policy_consultation", "政策諮詢", "Policy consultation"),
        Preset("complaint_service", "辦事效率與服務", "Service and efficiency"),
        Preset("staff_conduct", "幹部作風", "Staff conduct"),
        Preset("law_enforcement", "執法監督", "Law enforcement"),
        Preset("suggestion", "意見建議", "Suggestions"),
        Preset("other", "其他", "Other"),
    ),
}


def apply_preset(session: Session, preset: str) -> int:
    """Add the preset's categories that are missing (by code); returns how many were added."""
    if preset not in PRESETS:
        raise ValidationError(f"Unknown preset {preset!r}; use one of: {', '.join(PRESETS)}.",
                              fields={"preset": "Unknown preset."})
    existing = {c.code: c for c in session.execute(select(Category)).scalars()}
    order = len(existing)
    added = 0
    for spec in PRESETS[preset]:
        if spec.code in existing:
            continue
        parent = existing.get(spec.parent) if spec.parent else None
        cat = Category(code=spec.code, name=spec.name, name_hans=to_hans(spec.name), name_en=spec.name_en,
                       parent_id=parent.id if parent else None, sort_order=order, active=True)
        session.add(cat)
        session.flush()
        existing[spec.code] = cat
        order += 1
        added += 1
    return added


# -- reading -----------------------------------------------------------------------------------


def all_categories(session: Session, *, active_only: bool = False) -> list[Category]:
    """Top-level categories each followed by their sub-categories, in the bureau's order."""
    stmt = select(Category).order_by(Category.sort_order, Category.code)
    if active_only:
        stmt = stmt.where(Category.active.is_(True))
    rows = list(session.execute(stmt).scalars())
    tops = [c for c in rows if c.parent_id is None or c.parent_id not in {r.id for r in rows}]
    out = []
    for top in tops:
        out.append(top)
        out.extend(c for c in rows if c.parent_id == top.id)
    return out


def codes(session: Session, *, active_only: bool = False) -> list[str]:
    return [c.code for c in all_categories(session, active_only=active_only)]


def get(session: Session, code: str) -> Category:
    cat = session.execute(select(Category).where(Category.code == code)).scalar_one_or_none()
    if cat is None:
        raise NotFound(Msg("No category %(code)s.", code=Quoted(code)))
    return cat


def name_of(cat: Category, locale: str = "zh_Hant") -> str:
    if locale.startswith("en"):
        return cat.name_en or cat.name
    if locale in ("zh_Hans", "zh_CN", "zh"):
        return cat.name_hans or to_hans(cat.name)
    return cat.name


def label(cat: Category, locale: str = "zh_Hant") -> str:
    """The name, with its parent's for a sub-category ("科研項目管理 / 項目經費")."""
    own = name_of(cat, locale)
    return f"{name_of(cat.parent, locale)} / {own}" if cat.parent is not None else own


def labels(session: Session, locale: str = "zh_Hant") -> dict[str, str]:
    """code -> label of every category, active or not (old records keep their labels)."""
    return {c.code: label(c, locale) for c in all_categories(session)}


def problem(session: Session, code, *, allow_inactive: str | None = None) -> str | None:
    """Why ``code`` cannot be put on a letter now, or None. ``allow_inactive``: the record's
    current code, kept through a correction although it was deactivated since."""
    errors: dict[str, str] = {}   # literal messages in a dict: catalogued for translation
    if not isinstance(code, str) or not code:
        errors["category"] = "Required: one of the bureau's categories."
        return errors["category"]
    cat = session.execute(select(Category).where(Category.code == code)).scalar_one_or_none()
    if cat is None:
        active = ", ".join(codes(session, active_only=True))
        return f"Unknown category: not one of this instance's categories ({active})."
    if not cat.active and code != allow_inactive:
        errors["category"] = "This category is no longer in use (deactivated): choose another."
    return errors.get("category")


def in_use(session: Session, code: str) -> int:
    from records.models import Record

    return session.execute(select(func.count()).select_from(Record).where(Record.category == code)).scalar_one()


# -- changing ----------------------------------------------------------------------------------


def _names(values: dict, errors: dict, *, required: bool) -> dict:
    out = {}
    hant, hans, en = (values.get(k) for k in ("name", "name_hans", "name_en"))
    for key, value in (("name", hant), ("name_hans", hans), ("name_en", en)):
        if value is not None and (not isinstance(value, str) or len(value.strip()) > 200 or "\x00" in value):
            errors[key] = "At most 200 characters of text."
    if errors:
        return out
    hant, hans, en = ((v or "").strip() for v in (hant, hans, en))
    if not hant and hans:
        hant = to_hant(hans)
    if hant and not hans:
        hans = to_hans(hant)
    if required and not hant:
        errors["name"] = "Required."
    if hant:
        out.update(name=hant, name_hans=hans)
    if en or values.get("name_en") == "":
        out["name_en"] = en
    return out


def _parent(session: Session, code, errors: dict, *, own: Category | None = None) -> Category | None:
    if code in (None, ""):
        return None
    if not isinstance(code, str) or len(code) > 32:
        errors["parent"] = "The code of a top-level category."
        return None
    parent = session.execute(select(Category).where(Category.code == code)).scalar_one_or_none()
    if parent is None:
        errors["parent"] = Msg("No category %(code)s.", code=Quoted(code))
    elif parent.parent_id is not None:
        errors["parent"] = "A sub-category cannot have sub-categories of its own."
    elif own is not None and parent.id == own.id:
        errors["parent"] = "A category cannot be its own parent."
    elif own is not None and session.execute(select(Category.id).where(Category.parent_id == own.id)).first():
        errors["parent"] = "This category has sub-categories: it stays at the top."
    return parent


def add(session: Session, values: dict, *, by=None, address: str = "") -> Category:
    """A new category: ``code`` (a-z, 0-9, _), ``name`` or ``name_hans``, optional ``name_en``
    and ``parent`` (a top-level category's code)."""
    require_manager(by)
    errors: dict[str, str] = {}
    code = values.get("code")
    if not isinstance(code, str) or not CODE.fullmatch(code):
        errors["code"] = "2-32 characters: lower-case letters, digits and _, starting with a letter."
    elif session.execute(select(Category.id).where(Category.code == code)).first():
        errors["code"] = Msg("Category %(code)s exists already.", code=Quoted(code))
    names = _names(values, errors, required=True)
    parent = _parent(session, values.get("parent"), errors)
    if errors:
        raise ValidationError(Msg("The category was not added: %(why)s", why=_details(errors)), fields=errors)
    order = session.execute(select(func.coalesce(func.max(Category.sort_order), 0))).scalar_one() + 1
    cat = Category(code=code, parent_id=parent.id if parent else None, sort_order=order, active=True,
                   name_en=names.pop("name_en", ""), **names)
    session.add(cat)
    session.flush()
    audit.record(session, "reference.category.add", actor=by, address=address, target=code,
                 detail={"parent": parent.code if parent else None})
    return cat


def change(session: Session, code: str, values: dict, *, by=None, address: str = "") -> Category:
    """Rename, move under another parent, reactivate or deactivate (``active``) a category."""
    require_manager(by)
    cat = get(session, code)
    unknown = sorted(set(values) - {"name", "name_hans", "name_en", "parent", "active"})
    errors: dict[str, str] = {k: "Unknown field (a code cannot change)." for k in unknown}
    names = _names(values, errors, required=False)
    if "parent" in values:
        parent = _parent(session, values["parent"], errors, own=cat)
    if "active" in values and not isinstance(values["active"], bool):
        errors["active"] = "true or false."
    if errors:
        raise ValidationError(Msg("The category was not changed: %(why)s", why=_details(errors)), fields=errors)
    changed = {}
    for key, value in names.items():
        if getattr(cat, key) != value:
            changed[key] = value
            setattr(cat, key, value)
    if "parent" in values and cat.parent_id != (parent.id if parent else None):
        cat.parent_id = parent.id if parent else None
        changed["parent"] = parent.code if parent else None
    if "active" in values and cat.active != values["active"]:
        if not values["active"] and not cat.parent_id:
            for sub in session.execute(select(Category).where(Category.parent_id == cat.id)).scalars():
                sub.active = False
        cat.active = values["active"]
        changed["active"] = cat.active
    session.flush()
    session.expire(cat, ["parent"])
    if changed:
        audit.record(session, "reference.category.change", actor=by, address=address, target=code,
                     detail={k: v for k, v in changed.items() if k in ("parent", "active")} | {
                         "fields": sorted(changed)})
    return cat


def remove(session: Session, code: str, *, by=None, address: str = "") -> None:
    """Delete a category no record has ever carried (one in use is deactivated instead: 409)."""
    require_manager(by)
    cat = get(session, code)
    used = in_use(session, code)
    if used:
        raise Conflict(Msg("Category %(code)s is on %(n)s record(s): deactivate it instead; it is never deleted.",
                           code=Quoted(code), n=used))
    if session.execute(select(Category.id).where(Category.parent_id == cat.id)).first():
        raise Conflict(Msg("Category %(code)s has sub-categories: remove or move them first.", code=Quoted(code)))
    session.delete(cat)
    session.flush()
    audit.record(session, "reference.category.remove", actor=by, address=address, target=code)


def as_dict(cat: Category, *, used: int | None = None) -> dict:
    out = {"code": cat.code, "name": cat.name, "name_hans": cat.name_hans, "name_en": cat.name_en,
           "parent": cat.parent.code if cat.parent is not None else None, "active": cat.active}
    if used is not None:
        out["records"] = used
    return out
