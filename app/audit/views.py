"""The audit trail, newest first, filtered by action or actor; sealed free text (look-up
reasons) opened for its readers, each opening audited."""
from __future__ import annotations

from flask import Blueprint, render_template, request
from sqlalchemy import select

from records import audit, policy
from records.models import AuditEntry

from ..auth.session import login_required, me
from ..web import db, writes_on_get

bp = Blueprint("audit", __name__)

PER_PAGE = 100


@bp.get("/audit")
@login_required
@writes_on_get  # opening a sealed reason writes its own entry
def trail():
    user = me()
    policy.require(user, policy.VIEW_AUDIT)
    action = (request.args.get("action") or "").strip()[:64]
    actor = (request.args.get("actor") or "").strip()[:64]
    before = request.args.get("before", "")
    q = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(PER_PAGE)
    if action:
        q = q.where(AuditEntry.action == action)
    if actor:
        q = q.where(AuditEntry.actor == actor)
    if before.isdigit() and len(before) <= 12:
        q = q.where(AuditEntry.id < int(before))
    entries = db().execute(q).scalars().all()
    rows = [(e, audit.readable_detail(db(), e, user)) for e in entries]
    return render_template("audit/trail.html", rows=rows, action=action, actor=actor,
                           older=entries[-1].id if len(entries) == PER_PAGE else None)
