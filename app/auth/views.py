"""Sign in (password, then a one-time code for leaders and the chief), enrol an authenticator,
and sign out."""
from __future__ import annotations

import time

import segno
from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import logout_user
from markupsafe import Markup

from records.accounts import operations as accounts, lockout, totp
from records import audit
from records.errors import ValidationError
from records.accounts.models import User

from ..errors import write_kept_audit
from ..web import client_address, db, landing_url, local_path, writes_on_get
from .forms import CodeForm, LoginForm
from .session import SESSION_ID, begin_session, end_session, login_required, me

bp = Blueprint("auth", __name__)

#: How long the step between password and code may take.
PENDING_SECONDS = 5 * 60
_PENDING = "pending_2fa"


def _safe_next(target: str | None) -> str:
    return local_path(target) or url_for("core.home")


def _after_sign_in(target: str | None, user) -> str:
    """The page asked for (a local path only), else the user's landing page."""
    return local_path(target) or landing_url(user)


def _second_factor_roles() -> tuple[str, ...] | None:
    """None: the policy's SECOND_FACTOR rule; the app config may switch it off (tests)."""
    roles = current_app.config.get("XINFANG_SECOND_FACTOR_ROLES")
    return None if roles is None else tuple(roles)


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    if form.validate_on_submit():
        try:
            user = accounts.authenticate(db(), form.username.data, form.password.data, address=client_address())
        except lockout.Locked as exc:
            db().rollback()
            write_kept_audit(exc)
            flash(_("Too many failed sign-ins. Try again in %(minutes)d minute(s).",
                    minutes=max(1, -(-exc.retry_after // 60))), "error")
            return render_template("auth/login.html", form=form), 429, {"Retry-After": str(exc.retry_after)}
        if user is not None:
            target = _after_sign_in(request.args.get("next"), user)
            if totp.required_for(user, _second_factor_roles()) or totp.is_enrolled(db(), user):
                end_session()
                session[_PENDING] = {"uid": user.id, "epoch": user.session_epoch, "at": time.time(),
                                     "next": target}
                return redirect(url_for("auth.second_factor" if totp.is_enrolled(db(), user) else "auth.enrol"))
            begin_session(user)
            return redirect(target)
        flash(_("Wrong user name or password."), "error")
        return render_template("auth/login.html", form=form), 401
    if request.method == "POST":  # a field left empty or too long (CSRF failures never get here)
        flash(_("Enter your user name and password."), "error")
        return render_template("auth/login.html", form=form), 422
    return render_template("auth/login.html", form=form)


def _pending_user() -> User | None:
    """The user who gave the right password in the last few minutes and still owes a code."""
    pending = session.get(_PENDING)
    if not isinstance(pending, dict) or time.time() - float(pending.get("at", 0)) > PENDING_SECONDS:
        session.pop(_PENDING, None)
        return None
    user = db().get(User, int(pending.get("uid", 0)))
    if user is None or not user.active or user.session_epoch != pending.get("epoch"):
        session.pop(_PENDING, None)
        return None
    return user


def _finish(user: User):
    target = _after_sign_in(session.get(_PENDING, {}).get("next"), user)
    begin_session(user)
    return redirect(target)


def _expired():
    flash(_("The sign-in took too long or was not started. Sign in again."), "error")
    return redirect(url_for("auth.login"))


@bp.route("/login/code", methods=["GET", "POST"])
def second_factor():
    user = _pending_user()
    if user is None:
        return _expired()
    if not totp.is_enrolled(db(), user):
        return redirect(url_for("auth.enrol"))
    form = CodeForm()
    if form.validate_on_submit():
        address = client_address()
        wait = lockout.locked_for(db(), user.username, address)
        if wait:
            audit.record(db(), "login.locked", actor=user, address=address, detail={"retry_after": wait})
            flash(_("Too many failed sign-ins. Try again in %(minutes)d minute(s).",
                    minutes=max(1, -(-wait // 60))), "error")
            return render_template("auth/code.html", form=form), 429, {"Retry-After": str(wait)}
        code = form.code.data or ""
        if totp.verify(db(), user, code) or totp.use_recovery_code(db(), user, code):
            lockout.clear_account(db(), user.username)
            audit.record(db(), "login.second_factor", actor=user, address=address)
            left = totp.recovery_codes_left(db(), user)
            if left <= 3:
                flash(_("Only %(n)d recovery codes are left. Ask an administrator to reset your second factor "
                        "before they run out.", n=left), "info")
            return _finish(user)
        lockout.register_failure(db(), user.username, address)
        audit.record(db(), "login.second_factor_failure", actor=user, address=address)
        form.code.errors = [_("The code is not right, or was used already.")]
        return render_template("auth/code.html", form=form), 401
    return render_template("auth/code.html", form=form), 400 if request.method == "POST" else 200


def _qr_svg(uri: str) -> Markup:
    """The otpauth URI as an inline SVG QR code: no script, no style attribute (CSP)."""
    svg = segno.make(uri, error="m").svg_inline(scale=5, dark="#000", light="#fff", border=4)
    return Markup(svg)  # segno's own markup; the URI is encoded as modules, not as text


@bp.route("/login/enrol", methods=["GET", "POST"])
@writes_on_get
def enrol():
    user = _pending_user()
    if user is None:
        return _expired()
    if totp.is_enrolled(db(), user):
        return redirect(url_for("auth.second_factor"))
    form = CodeForm()
    if form.validate_on_submit():
        try:
            codes = totp.confirm_enrolment(db(), user, form.code.data)
        except ValidationError:
            lockout.register_failure(db(), user.username, client_address())
            form.code.errors = [_("The code is not right. Check the phone's clock and enter the current code.")]
            uri = totp.pending_uri(db(), user)
            return render_template("auth/enrol.html", form=form, uri=uri, qr=_qr_svg(uri),
                                   secret=uri.split("secret=")[1].split("&")[0]), 422
        audit.record(db(), "login.second_factor", actor=user, address=client_address(), detail={"enrolled": True})
        target = session.get(_PENDING, {}).get("next")
        begin_session(user)
        return render_template("auth/recovery_codes.html", codes=codes, next=_safe_next(target))
    uri = totp.pending_uri(db(), user)
    if uri is None:
        _secret, uri = totp.begin_enrolment(db(), user)
    secret = uri.split("secret=")[1].split("&")[0]
    return render_template("auth/enrol.html", form=form, uri=uri, qr=_qr_svg(uri), secret=secret), \
        400 if request.method == "POST" else 200


@bp.post("/logout")
@login_required
def logout():
    from records.accounts import sessions as server_sessions

    audit.record(db(), "logout", actor=me(), address=client_address())
    server_sessions.end(db(), session.get(SESSION_ID), "logout")
    logout_user()
    end_session()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))
