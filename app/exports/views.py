"""Ledger exports: the ledger under the user's filters as XLSX or CSV (records.reporting.exports)."""
from __future__ import annotations

from urllib.parse import quote

from flask import Blueprint, Response, abort, request

from records import policy
from records.cases import deadlines
from records.cases.operations import LedgerFilters
from records.reporting import exports

from ..auth.session import login_required, me
from ..web import client_address, db

bp = Blueprint("exports", __name__)


@bp.app_context_processor
def _nav() -> dict:
    from flask_login import current_user

    user = current_user.user if current_user.is_authenticated else None
    return {"can_export_ledger": policy.can(user, policy.EXPORT_LEDGER)}


def download(data: bytes, filename: str, mimetype: str) -> Response:
    """``data`` as a file to save (never cached: it may hold letters' metadata)."""
    response = Response(data, mimetype=mimetype)
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(filename)}"
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/exports/ledger.<fmt>")
@login_required
def ledger(fmt: str):
    user = me()
    if fmt not in exports.FORMATS:
        abort(404)
    policy.require(user, policy.EXPORT_LEDGER)
    filters = LedgerFilters.parse(request.args)
    office = request.args.get("office") or None
    stamp = deadlines.calendar_for(db()).today().isoformat()
    if fmt == "xlsx":
        data = exports.to_xlsx(db(), user, filters, office=office, address=client_address())
        return download(data, f"ledger-{stamp}.xlsx",
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    data = exports.to_csv(db(), user, filters, office=office, address=client_address())
    return download(data, f"ledger-{stamp}.csv", "text/csv; charset=utf-8")
