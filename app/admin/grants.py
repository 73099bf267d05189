"""Role grants waiting for a second person (separation of duties): the chief or an
administrator other than the one who asked confirms or refuses each."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _

from records import policy
from records.accounts import grants
from records.errors import XinfangError

from ..auth.session import login_required, me
from ..web import client_address, db
from .forms import ConfirmForm
from ..messages import tr

bp = Blueprint("grants", __name__, url_prefix="/grants")


@bp.before_request
@login_required
def _only_confirmers():
    policy.require(me(), policy.CONFIRM_GRANT)


@bp.get("")
def index():
    return render_template("admin/grants.html", grants=grants.pending(db()), actions=ConfirmForm(), me_id=me().id)


def _decide(grant_id: int, confirm: bool):
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("grants.index"))
    try:
        grant = grants.get(db(), grant_id)
        if confirm:
            grants.confirm(db(), grant, by=me(), address=client_address())
            flash(_("The role was granted."), "success")
        else:
            grants.refuse(db(), grant, by=me(), address=client_address())
            flash(_("The grant was refused."), "success")
    except XinfangError as exc:
        db().rollback()
        flash(tr(exc.message), "error")
        return render_template("admin/grants.html", grants=grants.pending(db()), actions=ConfirmForm(),
                               me_id=me().id), exc.status
    return redirect(url_for("grants.index"))


@bp.post("/<int:grant_id>/confirm")
def confirm(grant_id: int):
    return _decide(grant_id, True)


@bp.post("/<int:grant_id>/refuse")
def refuse(grant_id: int):
    return _decide(grant_id, False)
