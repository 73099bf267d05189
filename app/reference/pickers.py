"""The choices the forms offer from the reference data: the bureau's categories (active
ones, plus the one a record already carries) and the jurisdiction's regions for the region
field's datalist (any code of the national list is still accepted)."""
from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import get_locale

from records.reference import categories, regions

from ..forms import options


def _locale() -> str:
    return str(get_locale() or "zh_Hant")


def category_options(session, *, current: str | None = None, blank: str | None = None):
    cats = [c for c in categories.all_categories(session) if c.active or c.code == current]
    pairs = [(c.code, categories.label(c, _locale()) + ("" if c.active else " " + _("(no longer in use)")))
             for c in cats]
    return options(([("", blank)] if blank is not None else []) + pairs)


def region_label(session, region) -> str:
    script = "hans" if _locale() == "zh_Hans" else "hant"
    name = region.name_hans if script == "hans" and region.name_hans else region.name
    return f"{region.code} {name}"


def region_options(session, *, current: str | None = None, blank: str | None = None):
    """The jurisdiction's current regions (and ``current`` when it is another)."""
    rows = regions.choices(session)
    if current and all(r.code != current for r in rows):
        from records.reference.models import Region

        extra = session.get(Region, current)
        if extra is not None:
            rows = [extra, *rows]
    return options(([("", blank)] if blank is not None else []) + [(r.code, region_label(session, r)) for r in rows])


def region_note(session, code: str | None) -> dict | None:
    """What the record page says about a region: its full name, retired/successor, outside the area."""
    if not code:
        return None
    from records.reference.models import Region

    region = session.get(Region, code)
    if region is None:
        return None
    return regions.as_dict(session, region)
