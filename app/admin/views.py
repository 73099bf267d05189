"""Account management for administrators: list, create, change roles and office, deactivate,
reset password or second factor. Administrators never see any letter."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from records.accounts import grants, operations as accounts, totp
from records import policy
from records.errors import ValidationError
from records.reference.models import Office
from records.accounts.models import User

from ..auth.session import login_required, me
from ..forms import options
from ..web import db
from .forms import AccountForm, ConfirmForm
from ..messages import tr

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@login_required
def _only_admins():
    policy.require(me(), policy.MANAGE_USERS)


def _fill(form: AccountForm) -> None:
    offices = db().execute(select(Office).where(Office.active.is_(True))
                           .order_by(Office.is_external, Office.code)).scalars().all()
    internal = [o for o in offices if not o.is_external]
    form.office.choices = options([("", _("(none)"))] + [(o.code, f"{o.code} {o.name}") for o in internal])
    form.oversees.choices = options((o.code, f"{o.code} {o.name}") for o in internal if not o.is_intake)


@bp.get("/users")
def users():
    rows = db().execute(select(User).order_by(User.active.desc(), User.username)).scalars().all()
    return render_template("admin/users.html", users=rows)


@bp.route("/users/new", methods=["GET", "POST"])
def new_user():
    form = AccountForm()
    _fill(form)
    if form.validate_on_submit():
        password = accounts.generate_password()
        try:
            user = accounts.create_user(db(), (form.username.data or "").strip(), password, form.roles.data or [],
                                        office=form.office.data or None, oversees=form.oversees.data or [],
                                        display_name=(form.display_name.data or "").strip() or None, by=me())
        except ValidationError as exc:
            db().rollback()
            _set_errors(form, exc.fields)
            flash(_("Please correct the marked fields."), "error")
            return render_template("admin/edit.html", form=form, user=None), 422
        except Exception as exc:  # Conflict and NotFound carry a message for the page
            from records.errors import XinfangError

            if not isinstance(exc, XinfangError):
                raise
            db().rollback()
            flash(tr(exc.message), "error")
            return render_template("admin/edit.html", form=form, user=None), exc.status
        _flash_waiting(user)
        return render_template("admin/password.html", user=user, password=password)
    return render_template("admin/edit.html", form=form, user=None)


def _flash_waiting(user: User) -> None:
    """Say which roles wait for a second person's confirmation (separation of duties)."""
    waiting = [g.role for g in grants.pending(db(), user)]
    if waiting:
        flash(_("The role(s) %(roles)s take effect when the chief or another administrator confirms them "
                "(Role grants page).", roles=", ".join(waiting)), "info")


def _load(username: str) -> User:
    return accounts.get_user(db(), username)


@bp.route("/users/<username>", methods=["GET", "POST"])
def edit_user(username: str):
    user = _load(username)
    form = AccountForm()
    _fill(form)
    if form.validate_on_submit():
        try:
            accounts.update_user(db(), user, roles=form.roles.data or [], office=form.office.data or None,
                                 oversees=form.oversees.data or [], display_name=form.display_name.data, by=me())
        except ValidationError as exc:
            db().rollback()
            _set_errors(form, exc.fields)
            flash(_("Please correct the marked fields."), "error")
            return render_template("admin/edit.html", form=form, user=user, actions=ConfirmForm(),
                                   second_factor=totp.is_enrolled(db(), user)), 422
        flash(_("The account was updated."), "success")
        _flash_waiting(user)
        return redirect(url_for("admin.users"))
    form.username.data = user.username
    form.display_name.data = user.display_name
    form.roles.data = sorted(user.role_set)
    form.office.data = user.office.code if user.office else ""
    form.oversees.data = [o.code for o in user.overseen]
    return render_template("admin/edit.html", form=form, user=user, actions=ConfirmForm(),
                           second_factor=totp.is_enrolled(db(), user),
                           waiting=[g.role for g in grants.pending(db(), user)])


@bp.post("/users/<username>/active")
def toggle_active(username: str):
    user = _load(username)
    if ConfirmForm().validate_on_submit():
        accounts.set_active(db(), user, not user.active, by=me())
        flash(_("The account was activated.") if user.active else _("The account was deactivated."), "success")
    return redirect(url_for("admin.edit_user", username=user.username))


@bp.post("/users/<username>/password")
def reset_password(username: str):
    user = _load(username)
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("admin.edit_user", username=user.username))
    password = accounts.generate_password()
    accounts.set_password(db(), user, password, by=me())
    return render_template("admin/password.html", user=user, password=password)


@bp.post("/users/<username>/second-factor")
def reset_second_factor(username: str):
    user = _load(username)
    if ConfirmForm().validate_on_submit():
        totp.reset(db(), user, by=me())
        flash(_("The second factor was reset; the user enrols again at the next sign-in."), "success")
    return redirect(url_for("admin.edit_user", username=user.username))


def _set_errors(form: AccountForm, fields: dict) -> None:
    for key, message in fields.items():
        field = getattr(form, key, None)
        if field is not None and hasattr(field, "errors"):
            field.errors = list(field.errors or []) + [message]
        else:
            flash(tr(message), "error")
