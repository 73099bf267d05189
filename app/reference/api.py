"""JSON API /api/v1 for reference data: regions (look-up, jurisdiction), categories, offices
and units, the official calendar and the letterhead. Routes join the API blueprint (same
tokens, same error shape); reading needs the ``read`` scope, changing the ``reference`` one
(and the administrator's MANAGE_REFERENCE, checked by the services)."""
from __future__ import annotations

import datetime as dt

from flask import g, jsonify, request

from records import policy
from records.errors import NotFound, ValidationError
from records.reference import calendar, categories, letterhead, regions, units
from records.reference.models import Region

from ..api.base import _json_body, bp, token_required, token_scope
from ..web import client_address, db, instance


def _reader():
    policy.require(g.api_user, policy.VIEW_REFERENCE)


@bp.get("/regions")
@token_required
def api_regions():
    _reader()
    q = (request.args.get("q") or "").strip()
    id_number = request.args.get("id_number")
    if not q and not id_number:
        raise ValidationError("Give q (a code or a name in either script) or id_number.", fields={"q": "Required."})
    found = regions.search(db(), q, limit=50) if q else []
    suggested = regions.from_id_number(db(), id_number) if id_number else None
    return jsonify({"regions": [regions.as_dict(db(), r) for r in found],
                    "suggested": regions.as_dict(db(), suggested) if suggested else None})


@bp.get("/regions/<code>")
@token_required
def api_region(code: str):
    _reader()
    why = regions.problem(db(), code)
    if why:
        raise NotFound(why)
    return jsonify(regions.as_dict(db(), db().get(Region, code)))


@bp.get("/jurisdiction")
@token_required
def api_jurisdiction():
    _reader()
    area = regions.jurisdiction(db())
    return jsonify({"jurisdiction": regions.as_dict(db(), area) if area else None})


@bp.put("/jurisdiction")
@token_required
@token_scope("reference")
def api_set_jurisdiction():
    region = regions.set_jurisdiction(db(), _json_body().get("code"), by=g.api_user, address=client_address())
    return jsonify({"jurisdiction": regions.as_dict(db(), region)})


@bp.get("/categories")
@token_required
def api_categories():
    _reader()
    active_only = request.args.get("active") in ("1", "true")
    return jsonify({"categories": [categories.as_dict(c, used=categories.in_use(db(), c.code))
                                   for c in categories.all_categories(db(), active_only=active_only)]})


@bp.post("/categories")
@token_required
@token_scope("reference")
def api_add_category():
    cat = categories.add(db(), _json_body(), by=g.api_user, address=client_address())
    return jsonify(categories.as_dict(cat, used=0)), 201


@bp.patch("/categories/<code>")
@token_required
@token_scope("reference")
def api_change_category(code: str):
    cat = categories.change(db(), code, _json_body(), by=g.api_user, address=client_address())
    return jsonify(categories.as_dict(cat, used=categories.in_use(db(), code)))


@bp.delete("/categories/<code>")
@token_required
@token_scope("reference")
def api_remove_category(code: str):
    categories.remove(db(), code, by=g.api_user, address=client_address())
    return "", 204


@bp.get("/units")
@token_required
def api_units():
    _reader()
    return jsonify({"units": [units.as_dict(o, use=units.in_use(db(), o)) for o in units.all_units(db())]})


@bp.post("/units")
@token_required
@token_scope("reference")
def api_add_unit():
    office = units.add(db(), _json_body(), by=g.api_user, address=client_address())
    return jsonify(units.as_dict(office)), 201


@bp.patch("/units/<code>")
@token_required
@token_scope("reference")
def api_change_unit(code: str):
    office = units.change(db(), code, _json_body(), by=g.api_user, address=client_address())
    return jsonify(units.as_dict(office, use=units.in_use(db(), office)))


@bp.delete("/units/<code>")
@token_required
@token_scope("reference")
def api_remove_unit(code: str):
    units.remove(db(), code, by=g.api_user, address=client_address())
    return "", 204


@bp.get("/calendar/<int:year>")
@token_required
def api_calendar(year: int):
    _reader()
    days = calendar.days_of(db(), year)   # a year out of range is a 422
    return jsonify({"year": year, "provisional": calendar.is_provisional(db(), year),
                    "days": [{"day": d.day.isoformat(), "kind": d.kind, "name": d.name} for d in days]})


@bp.post("/calendar")
@token_required
@token_scope("reference")
def api_import_calendar():
    """Body: {"text": "<the import file's lines>"}."""
    text = _json_body().get("text")
    if not isinstance(text, str):
        raise ValidationError("Send the calendar lines as text.", fields={"text": "Required."})
    years = calendar.import_text(db(), text, by=g.api_user, address=client_address())
    return jsonify({"years": years}), 201


@bp.get("/letterhead")
@token_required
def api_letterhead():
    _reader()
    head = letterhead.current(db())
    return jsonify({**head.as_dict(), "example": head.number(dt.datetime.now(instance().settings.tz).year, 1)})


@bp.put("/letterhead")
@token_required
@token_scope("reference")
def api_update_letterhead():
    head = letterhead.update_letterhead(db(), _json_body(), by=g.api_user, address=client_address())
    return jsonify(head.as_dict())
