"""Search pages: full-text search with filters and facets, confidential identity look-ups,
and marking a letter as a repeat. Each handler: load → check access (``records.policy``,
through the services) → act."""
from __future__ import annotations

import logging
from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from records.cases import operations
from records import policy
from records.errors import ValidationError
from records.models import Record
from records.reference.models import Region
from search import lookups, query, repeats
from search.interface import FACETS

from ..auth.session import login_required, me
from ..forms import options
from ..labels import STATUS_LABELS, ref_name
from ..reference.pickers import category_options, region_options
from ..web import client_address, db, instance
from .forms import LookupForm, RepeatForm, SearchForm
from ..messages import tr

bp = Blueprint("search", __name__)
log = logging.getLogger("xinfang.web")


@bp.app_context_processor
def _nav():
    from flask_login import current_user

    user = current_user.user if current_user.is_authenticated else None
    return {"can_search_nav": policy.can(user, policy.SEARCH),
            "can_lookup_nav": policy.can(user, policy.IDENTITY_LOOKUP)}


def _tz() -> ZoneInfo:
    return instance().settings.tz


def _statuses() -> list[str]:
    return list(query.known_statuses())


def _region_names(results) -> dict[str, str]:
    """code -> name of the regions in the facets (any of the national list)."""
    codes = set()
    for name, counts in (getattr(results, "facets", None) or {}).items():
        if name == "region":
            codes.update(value for value, _n in (counts.items() if hasattr(counts, "items") else counts))
    if not codes:
        return {}
    return {r.code: ref_name(r) for r in db().execute(select(Region).where(Region.code.in_(codes))).scalars()}


@bp.get("/search")
@login_required
def index():
    user = me()
    policy.require(user, policy.SEARCH)
    form = SearchForm(request.args)
    form.status.choices = options([("", _("All"))] + [(s, STATUS_LABELS.get(s, s)) for s in _statuses()])
    form.region.choices = region_options(db(), current=request.args.get("region"), blank=_("All"))
    form.category.choices = category_options(db(), current=request.args.get("category"), blank=_("All"))
    results, error, fields = None, None, {}
    asked = any(request.args.get(k) for k in ("q", *query.PARAM_FILTERS, "date_from", "date_to"))
    status = 200
    if asked:
        try:
            page = int(request.args.get("page", "1") or 1)
        except ValueError:
            page = 1
        try:
            results = query.search(db(), user, request.args.get("q", ""), params=request.args,
                                   sort=request.args.get("sort") or "relevance", page=page, per_page=20,
                                   address=client_address())
        except ValidationError as exc:
            db().rollback()
            error, fields, status = exc.message, exc.fields, 422
    return render_template("search/index.html", form=form, results=results, error=error, fields=fields,
                           regions=_region_names(results), facet_names=FACETS, asked=asked,
                           tz=_tz()), status


@bp.route("/lookups", methods=["GET", "POST"])
@login_required
def lookup():
    user = me()
    policy.require(user, policy.IDENTITY_LOOKUP)
    form = LookupForm()
    result, status = None, 200
    if request.method == "POST":
        if not form.validate_on_submit():
            return render_template("search/lookup.html", form=form, result=None, tz=_tz(),
                                   remaining=None, limit=lookups.LIMIT_PER_HOUR), 400
        try:
            result = lookups.lookup(db(), user, form.kind.data, form.value.data, form.reason.data,
                                    address=client_address())
        except ValidationError as exc:
            db().rollback()
            for key, message in exc.fields.items():
                field = getattr(form, key, None)
                if field is not None:
                    field.errors = list(field.errors or []) + [message]
            flash(_("The look-up was not made."), "error")
            status = 422
        else:
            form.value.data = ""  # never echo the identifier back into the page's form
    remaining = result.remaining if result is not None else \
        max(0, lookups.LIMIT_PER_HOUR - lookups.used_this_hour(db(), user))
    return render_template("search/lookup.html", form=form, result=result, tz=_tz(), remaining=remaining,
                           limit=lookups.LIMIT_PER_HOUR), status


def repeat_panel(record: Record, user) -> dict:
    """What the record page shows about repeats: the letter it is marked as repeating, and
    for those who may correct a newly registered letter, the candidates."""
    earlier = db().get(Record, record.repeat_of_id) if record.repeat_of_id else None
    ctx = {"earlier": earlier if earlier is not None and policy.can(user, policy.VIEW_LEDGER, earlier) else None,
           "marked": earlier is not None, "report": None, "form": None,
           "can_mark": policy.can(user, policy.CORRECT_RECORD, record)}
    if ctx["can_mark"]:
        ctx["form"] = RepeatForm()
        if record.status == "registered" and earlier is None:
            try:
                ctx["report"] = repeats.candidates(db(), record, user, address=client_address())
            except Exception as exc:  # noqa: BLE001 - the record page must not fail for want of the index
                log.error("repeat candidates unavailable (%s)", type(exc).__name__)
    return ctx


@bp.post("/records/<serial>/repeat")
@login_required
def mark_repeat(serial: str):
    user = me()
    record = operations.get_record(db(), serial, user)
    policy.require(user, policy.CORRECT_RECORD, record)
    form = RepeatForm()
    if not form.validate_on_submit():
        flash(_("The form expired; try again."), "error")
        return redirect(url_for("ledger.show", serial=record.serial))
    try:
        earlier = repeats.mark_repeat(db(), record, form.repeat_of.data or None, by=user, address=client_address())
    except ValidationError as exc:
        db().rollback()
        flash(tr(exc.fields.get("repeat_of") or exc.message), "error")
        return redirect(url_for("ledger.show", serial=record.serial))
    if earlier is not None:
        flash(_("Marked as a repeat of %(serial)s.", serial=earlier.serial), "success")
    else:
        flash(_("No longer marked as a repeat."), "success")
    return redirect(url_for("ledger.show", serial=record.serial))
