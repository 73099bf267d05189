"""Sign in and out."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_user, logout_user

from records import accounts, audit

from ..web import client_address, db
from .forms import LoginForm
from .session import LoginUser, login_required, me

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("ledger.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        user = accounts.authenticate(db(), form.username.data, form.password.data, address=client_address())
        if user is not None:
            login_user(LoginUser(user))
            return redirect(_safe_next(request.args.get("next")))
        flash(_("Wrong user name or password."), "error")
        return render_template("auth/login.html", form=form), 401
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    audit.record(db(), "logout", actor=me(), address=client_address())
    logout_user()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))
