"""Where each role's work waits: /desk/mine (a handler's matters, nearest deadline first)
and /desk/decisions (what waits for a leader's or the chief's decision, then the board).
The menu entries of this blueprint and the admin's come from the policy's permissions."""
from __future__ import annotations

from flask import Blueprint, render_template

from records import policy
from records.cases import desk
from retention import operations as ret

from ..auth.session import login_required, me
from ..web import db, instance

bp = Blueprint("desk", __name__)


@bp.app_context_processor
def _nav() -> dict:
    from flask_login import current_user

    user = current_user.user if current_user.is_authenticated else None
    return {"can_ledger_nav": policy.holds(user, policy.VIEW_LEDGER),
            "can_accounts_nav": policy.holds(user, policy.MANAGE_USERS),
            "can_mine_nav": policy.holds(user, policy.HANDLE),
            "can_decisions_nav": policy.holds(user, policy.DECIDE) or policy.holds(user, policy.APPROVE_EXTENSION),
            "office_tz": instance().settings.tz}


@bp.get("/desk/mine")
@login_required
def mine():
    user = me()
    matters = desk.my_matters(db(), user)
    return render_template("desk/mine.html", matters=matters, tz=instance().settings.tz)


@bp.get("/desk/decisions")
@login_required
def decisions():
    user = me()
    waiting = desk.decisions(db(), user)
    batches = []
    if policy.holds(user, policy.APPROVE_DESTRUCTION):
        batches = [s for s in ret.list_batches(db(), user, state="proposed") if s.batch.proposed_by_id != user.id]
    return render_template("desk/decisions.html", waiting=waiting, batches=batches, tz=instance().settings.tz)
