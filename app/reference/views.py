"""Reference data on the web: the region finder every registrar uses (a page that works
without JavaScript, and its JSON twin for the picker), and the administrator's pages for the
jurisdiction, letterhead, categories, offices and units, and the official calendar. Each
handler: load → check access (``records.policy``) → act through ``records.reference``."""
from __future__ import annotations

import datetime as dt

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from records import policy
from records.errors import XinfangError
from records.reference import calendar, categories, letterhead, regions, units

from ..auth.session import login_required, me
from ..labels import ref_name
from ..web import client_address, db, instance
from ..messages import describe

bp = Blueprint("reference", __name__)


def _today() -> dt.date:
    """The office's date (its time zone)."""
    return dt.datetime.now(instance().settings.tz).date()


@bp.app_context_processor
def _reference_context():
    def calendar_missing_year():
        """Next year, from 1 November while its official calendar is not entered (else None)."""
        return calendar.missing_next_year(db(), _today())

    def region_name(region) -> str:
        """The region's name in the reader's script."""
        return ref_name(region)

    user = current_user.user if current_user.is_authenticated else None
    return {"can_reference_nav": policy.can(user, policy.MANAGE_REFERENCE),
            "calendar_missing_year": calendar_missing_year, "region_name": region_name}


def _fail(exc: XinfangError, fallback: str):
    """Back to the page with the message (the change was not made)."""
    db().rollback()
    flash(describe(exc), "error")
    return redirect(request.referrer if _same_site(request.referrer) else fallback)


def _same_site(url: str | None) -> bool:
    return bool(url) and url.startswith(request.host_url)


def _checked(name: str) -> bool:
    return request.form.get(name) in ("1", "on", "true", "yes")


# -- the region finder (everyone who registers or reads the ledger) ---------------------------


@bp.get("/reference/regions")
@login_required
def find_regions():
    policy.require(me(), policy.VIEW_REFERENCE)
    q = (request.args.get("q") or "").strip()[:40]
    found = [regions.as_dict(db(), r) for r in regions.search(db(), q, limit=50)] if q else []
    suggested = regions.from_id_number(db(), request.args.get("id_number"))
    area = regions.jurisdiction(db())
    return render_template("reference/regions.html", q=q, found=found,
                           suggested=regions.as_dict(db(), suggested) if suggested else None,
                           area=regions.as_dict(db(), area) if area else None)


@bp.get("/reference/regions.json")
@login_required
def region_lookup():
    policy.require(me(), policy.VIEW_REFERENCE)
    q = (request.args.get("q") or "").strip()[:40]
    suggested = regions.from_id_number(db(), request.args.get("id_number"))
    return jsonify({"regions": [regions.as_dict(db(), r) for r in regions.search(db(), q)] if q else [],
                    "suggested": regions.as_dict(db(), suggested) if suggested else None})


# -- the administrator's pages ----------------------------------------------------------------


def _admin():
    policy.require(me(), policy.MANAGE_REFERENCE)


@bp.get("/admin/reference")
@login_required
def index():
    _admin()
    area = regions.jurisdiction(db())
    return render_template("reference/index.html", area=regions.as_dict(db(), area) if area else None,
                           letterhead=letterhead.current(db()), years=calendar.years(db()),
                           source=regions.source_note())


@bp.post("/admin/reference/jurisdiction")
@login_required
def set_jurisdiction():
    _admin()
    try:
        region = regions.set_jurisdiction(db(), (request.form.get("code") or "").strip(), by=me(),
                                          address=client_address())
    except XinfangError as exc:
        return _fail(exc, url_for("reference.index"))
    flash(_("The bureau's area is now %(code)s %(name)s.", code=region.code,
            name=regions.full_name(db(), region)), "success")
    return redirect(url_for("reference.index"))


@bp.route("/admin/reference/letterhead", methods=["GET", "POST"])
@login_required
def edit_letterhead():
    _admin()
    errors: dict[str, str] = {}
    values = letterhead.current(db()).as_dict()
    if request.method == "POST":
        values = {name: request.form.get(name, "") for name in letterhead.FIELDS}
        try:
            letterhead.update_letterhead(db(), values, by=me(), address=client_address())
        except XinfangError as exc:
            db().rollback()
            errors = exc.fields
            flash(_("Please correct the marked fields."), "error")
        else:
            flash(_("The letterhead was saved."), "success")
            return redirect(url_for("reference.edit_letterhead"))
    sample = None
    if not errors:
        sample = letterhead.Letterhead(**values).number(_today().year, 12)
    return render_template("reference/letterhead.html", values=values, errors=errors, sample=sample,
                           fields=letterhead.FIELDS), 422 if errors else 200


@bp.get("/admin/reference/categories")
@login_required
def category_list():
    _admin()
    rows = [(c, categories.in_use(db(), c.code)) for c in categories.all_categories(db())]
    tops = [c for c, _n in rows if c.parent_id is None]
    return render_template("reference/categories.html", rows=rows, tops=tops)


@bp.post("/admin/reference/categories")
@login_required
def add_category():
    _admin()
    values = {k: request.form.get(k, "").strip() for k in ("code", "name", "name_hans", "name_en", "parent")}
    try:
        cat = categories.add(db(), values, by=me(), address=client_address())
    except XinfangError as exc:
        return _fail(exc, url_for("reference.category_list"))
    flash(_("Category %(code)s added.", code=cat.code), "success")
    return redirect(url_for("reference.category_list"))


@bp.post("/admin/reference/categories/<code>")
@login_required
def change_category(code: str):
    _admin()
    values: dict = {k: request.form[k].strip() for k in ("name", "name_hans", "name_en", "parent") if k in request.form}
    if "active" in request.form:
        values["active"] = _checked("active")
    try:
        categories.change(db(), code, values, by=me(), address=client_address())
    except XinfangError as exc:
        return _fail(exc, url_for("reference.category_list"))
    flash(_("Category %(code)s saved.", code=code), "success")
    return redirect(url_for("reference.category_list"))


@bp.post("/admin/reference/categories/<code>/remove")
@login_required
def remove_category(code: str):
    _admin()
    try:
        categories.remove(db(), code, by=me(), address=client_address())
    except XinfangError as exc:
        return _fail(exc, url_for("reference.category_list"))
    flash(_("Category %(code)s removed.", code=code), "success")
    return redirect(url_for("reference.category_list"))


@bp.get("/admin/reference/units")
@login_required
def unit_list():
    _admin()
    rows = [(o, units.in_use(db(), o)) for o in units.all_units(db())]
    return render_template("reference/units.html", rows=rows)


@bp.post("/admin/reference/units")
@login_required
def add_unit():
    _admin()
    values = {"code": request.form.get("code", "").strip(), "name": request.form.get("name", ""),
              "external": _checked("external"), "regions": request.form.get("regions", "")}
    try:
        office = units.add(db(), values, by=me(), address=client_address())
    except XinfangError as exc:
        return _fail(exc, url_for("reference.unit_list"))
    flash(_("%(code)s added.", code=office.code), "success")
    return redirect(url_for("reference.unit_list"))


@bp.post("/admin/reference/units/<code>")
@login_required
def change_unit(code: str):
    _admin()
    values: dict = {k: request.form[k] for k in ("name", "regions") if k in request.form}
    if "active" in request.form:
        values["active"] = _checked("active")
    try:
        units.change(db(), code, values, by=me(), address=client_address())
    except XinfangError as exc:
        return _fail(exc, url_for("reference.unit_list"))
    flash(_("%(code)s saved.", code=code), "success")
    return redirect(url_for("reference.unit_list"))


@bp.post("/admin/reference/units/<code>/remove")
@login_required
def remove_unit(code: str):
    _admin()
    try:
        units.remove(db(), code, by=me(), address=client_address())
    except XinfangError as exc:
        return _fail(exc, url_for("reference.unit_list"))
    flash(_("%(code)s removed.", code=code), "success")
    return redirect(url_for("reference.unit_list"))


@bp.get("/admin/reference/calendar")
@login_required
def calendar_page():
    _admin()
    try:
        year = int(request.args.get("year") or _today().year)
    except ValueError:
        year = _today().year
    year = min(max(year, 1900), 2199)
    provisional = calendar.is_provisional(db(), year)
    # a year not entered starts empty: importing "year 2027" alone would enter it without its holidays
    return render_template("reference/calendar.html", year=year, days=calendar.days_of(db(), year),
                           years=calendar.years(db()), provisional=provisional,
                           text="" if provisional else calendar.export_text(db(), year))


@bp.post("/admin/reference/calendar/import")
@login_required
def import_calendar():
    _admin()
    upload = request.files.get("file")
    text = request.form.get("text", "")
    if upload is not None and upload.filename:
        raw = upload.read(1_000_001)
        if len(raw) > 1_000_000:
            flash(_("The file is larger than 1 MB."), "error")
            return redirect(url_for("reference.calendar_page"))
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            flash(_("The file is not UTF-8 text."), "error")
            return redirect(url_for("reference.calendar_page"))
    try:
        years = calendar.import_text(db(), text, by=me(), address=client_address())
    except XinfangError as exc:
        return _fail(exc, url_for("reference.calendar_page"))
    flash(_("Calendar imported for %(years)s.", years=", ".join(map(str, years))), "success")
    return redirect(url_for("reference.calendar_page", year=years[0]))


@bp.post("/admin/reference/calendar/day")
@login_required
def set_calendar_day():
    _admin()
    try:
        day = dt.date.fromisoformat(request.form.get("day", ""))
    except ValueError:
        flash(_("Give the day as YYYY-MM-DD."), "error")
        return redirect(url_for("reference.calendar_page"))
    kind = request.form.get("kind") or None
    try:
        calendar.set_day(db(), day, None if kind == "normal" else kind, request.form.get("name", ""), by=me(),
                         address=client_address())
    except XinfangError as exc:
        return _fail(exc, url_for("reference.calendar_page", year=day.year))
    flash(_("%(day)s saved.", day=day.isoformat()), "success")
    return redirect(url_for("reference.calendar_page", year=day.year))
