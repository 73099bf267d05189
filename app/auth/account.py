"""The signed-in user's own account: open sessions (end the others), API tokens (create with
a name, scopes and an expiry; revoke). Every action is the user's own and audited."""
from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField
from wtforms.validators import Length, NumberRange, Optional

from records import policy
from records.accounts import sessions, tokens, totp
from records.errors import XinfangError

from ..forms import CheckboxesField, options
from ..web import client_address, db
from .session import login_required, me
from ..messages import tr

bp = Blueprint("account", __name__, url_prefix="/account")

SCOPE_LABELS = {
    "read": _l("read: the ledger, letters and searches the account may see"),
    "register": _l("register: register and correct letters"),
    "workflow": _l("workflow: decide, handle and reply to matters"),
    "lookup": _l("lookup: confidential identity look-ups (needs a second factor)"),
    "retention": _l("retention: batches, holds and destruction lists"),
}


class TokenForm(FlaskForm):
    name = StringField(_l("Name"), validators=[Length(max=200)])
    scopes = CheckboxesField(_l("Scopes"), choices=[], validate_choice=False)
    days = IntegerField(_l("Days until it expires"), default=tokens.DEFAULT_DAYS,
                        validators=[Optional(), NumberRange(1, tokens.MAX_DAYS)])


class ActionForm(FlaskForm):
    """The CSRF token of one-button actions."""


@bp.before_request
@login_required
def _signed_in():
    policy.require(me(), policy.USE_ACCOUNT)


def _token_form() -> TokenForm:
    form = TokenForm()
    form.scopes.choices = options((s, SCOPE_LABELS.get(s, s)) for s in policy.token_scopes_for(me()))
    return form


def _page(form: TokenForm, new_token: str | None = None, status: int = 200):
    user = me()
    current = getattr(current_user, "server_session", None)
    return render_template("auth/account.html", sessions=sessions.open_sessions(db(), user),
                           current=current.id if current is not None else None,
                           tokens=tokens.listing(db(), user), form=form, actions=ActionForm(),
                           new_token=new_token, second_factor=totp.is_enrolled(db(), user),
                           scope_labels=SCOPE_LABELS,
                           may_use_api=policy.can(user, policy.USE_API)), status


@bp.get("")
def index():
    return _page(_token_form())


@bp.post("/sessions/<int:session_id>/end")
def end_session(session_id: int):
    if ActionForm().validate_on_submit():
        sessions.end_one(db(), me(), session_id, address=client_address())
        flash(_("The session was ended."), "success")
    return redirect(url_for("account.index"))


@bp.post("/sessions/end-others")
def end_others():
    if ActionForm().validate_on_submit():
        n = sessions.end_others(db(), me(), getattr(current_user, "server_session", None), address=client_address())
        flash(_("%(n)d other session(s) ended.", n=n), "success")
    return redirect(url_for("account.index"))


@bp.post("/tokens")
def new_token():
    policy.require(me(), policy.USE_API)
    form = _token_form()
    if not form.validate_on_submit():
        flash(_("Please correct the marked fields."), "error")
        return _page(form, status=422)
    try:
        token = tokens.issue(db(), me(), name=form.name.data or "", scopes=form.scopes.data or [],
                             days=form.days.data or tokens.DEFAULT_DAYS,
                             second_factor_roles=current_app.config.get("XINFANG_SECOND_FACTOR_ROLES",
                                                                        totp.DEFAULT_REQUIRED_ROLES))
    except XinfangError as exc:
        db().rollback()
        flash(tr(exc.message), "error")
        return _page(form, status=exc.status)
    return _page(_token_form(), new_token=token, status=201)


@bp.post("/tokens/<prefix>/revoke")
def revoke_token(prefix: str):
    if ActionForm().validate_on_submit():
        n = tokens.revoke(db(), me(), prefix[:16], address=client_address())
        flash(_("The token was revoked.") if n else _("No such token."), "success" if n else "error")
    return redirect(url_for("account.index"))
