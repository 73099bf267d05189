"""JSON API /api/v1/retention: batches, propose, approve, exclude, holds, runs, certificates.
Routes join the API blueprint (``app.api.views.bp``): same tokens, same error shape.
Nothing here returns letter content: serials, dates, reasons and states only."""
from __future__ import annotations

import json

from flask import g, jsonify, request, url_for

from records import policy
from records.errors import ValidationError

from retention import jobs as retention_jobs
from retention import operations as ret

from ..api.base import _json_body, bp, token_required
from ..jobs.handoff import hand_off
from ..web import client_address, db


def _summary(x: ret.BatchSummary) -> dict:
    b = x.batch
    return {"id": b.id, "region": b.region_code, "year": b.year, "state": b.state, "letters": x.letters,
            "counts": x.counts, "due_on": x.due_on.isoformat(), "due": x.is_due, "held": x.held,
            "held_letters": x.held_letters, "destroyed": x.destroyed, "rounds": b.rounds,
            "proposed_by": b.proposed_by.username if b.proposed_by else None,
            "approved_by": b.approved_by.username if b.approved_by else None}


def _hold(h) -> dict:
    return {"id": h.id, "serial": h.serial, "batch": h.batch_id, "reason": h.reason,
            "placed_by": h.placed_by.username, "placed_at": h.placed_at.isoformat(),
            "lifted_at": h.lifted_at.isoformat() if h.lifted_at else None,
            "lifted_by": h.lifted_by.username if h.lifted_by else None, "lift_reason": h.lift_reason}


def _batch_json(batch_id: int) -> dict:
    batch = ret.get_batch(db(), batch_id, g.api_user)
    out = _summary(ret.summarise(db(), [batch])[0])
    out["letters_list"] = [{"serial": bl.serial, "reason": bl.stored_reason, "received_on": bl.received_on.isoformat(),
                            "stored_on": bl.stored_at.date().isoformat(), "state": bl.state,
                            "excluded_reason": bl.excluded_reason}
                           for bl in ret.batch_letters(db(), batch, g.api_user)]
    job = retention_jobs.latest_job(db(), batch.id)
    out["run"] = retention_jobs.job_json(job) if job is not None else None
    return out


@bp.get("/retention/batches")
@token_required
def retention_batches():
    year = request.args.get("year")
    if year and not (year.isascii() and year.isdigit() and len(year) == 4):
        raise ValidationError("year must be a year like 2026.", fields={"year": "Must be a year."})
    items = ret.list_batches(db(), g.api_user, state=request.args.get("state") or None,
                             region=request.args.get("region") or None, year=int(year) if year else None)
    return jsonify({"items": [_summary(x) for x in items]})


@bp.get("/retention/batches/<int:batch_id>")
@token_required
def retention_batch(batch_id: int):
    return jsonify(_batch_json(batch_id))


@bp.post("/retention/batches/<int:batch_id>/seal")
@token_required
def retention_seal(batch_id: int):
    policy.require(g.api_user, policy.MANAGE_RETENTION)
    ret.seal(db(), ret.get_batch(db(), batch_id), by=g.api_user, address=client_address())
    return jsonify(_batch_json(batch_id))


@bp.post("/retention/batches/<int:batch_id>/propose")
@token_required
def retention_propose(batch_id: int):
    policy.require(g.api_user, policy.MANAGE_RETENTION)
    ret.propose(db(), ret.get_batch(db(), batch_id), by=g.api_user, address=client_address())
    return jsonify(_batch_json(batch_id))


@bp.post("/retention/batches/<int:batch_id>/approve")
@token_required
def retention_approve(batch_id: int):
    policy.require(g.api_user, policy.APPROVE_DESTRUCTION)
    ret.approve(db(), ret.get_batch(db(), batch_id), by=g.api_user, address=client_address())
    return jsonify(_batch_json(batch_id))


@bp.post("/retention/batches/<int:batch_id>/exclude")
@token_required
def retention_exclude(batch_id: int):
    policy.require(g.api_user, policy.APPROVE_DESTRUCTION)
    body = _json_body()
    serial = body.get("serial")
    if not isinstance(serial, str) or not serial:
        raise ValidationError("Name the letter to exclude.", fields={"serial": "Required."})
    ret.exclude(db(), ret.get_batch(db(), batch_id), serial, by=g.api_user, reason=body.get("reason"),
                address=client_address())
    return jsonify(_batch_json(batch_id))


@bp.post("/retention/batches/<int:batch_id>/runs")
@token_required
def retention_run(batch_id: int):
    """A leader starts the destruction of one approved, due batch: a job a worker process
    runs (never this request); 202 with the job. Its progress, then its certificate, show
    in ``GET /retention/batches/<id>`` under ``run``."""
    policy.require(g.api_user, policy.APPROVE_DESTRUCTION)
    batch = ret.get_batch(db(), batch_id)
    job = retention_jobs.start_destruction(db(), batch, by=g.api_user)
    db().commit()
    hand_off([retention_jobs.DESTRUCTION])
    return jsonify({"batch": batch_id, "run": retention_jobs.job_json(job)}), 202, {
        "Location": url_for("api.retention_batch", batch_id=batch_id)}


@bp.get("/retention/holds")
@token_required
def retention_holds():
    active = request.args.get("active") in ("1", "true", "yes")
    return jsonify({"items": [_hold(h) for h in ret.list_holds(db(), g.api_user, active_only=active)]})


@bp.post("/retention/holds")
@token_required
def retention_add_hold():
    policy.require(g.api_user, policy.PLACE_HOLD)
    body = _json_body()
    batch = ret.get_batch(db(), body["batch"]) if body.get("batch") is not None else None
    serial = body.get("serial")
    if serial is not None and not isinstance(serial, str):
        raise ValidationError("serial must be a string.", fields={"serial": "Must be a string."})
    h = ret.hold(db(), by=g.api_user, reason=body.get("reason"), serial=serial, batch=batch,
                 address=client_address())
    return jsonify(_hold(h)), 201


@bp.post("/retention/holds/<int:hold_id>/lift")
@token_required
def retention_lift_hold(hold_id: int):
    policy.require(g.api_user, policy.PLACE_HOLD)
    body = _json_body()
    return jsonify(_hold(ret.lift(db(), hold_id, by=g.api_user, reason=body.get("reason"),
                                  address=client_address())))


@bp.get("/retention/certificates")
@token_required
def retention_certificates():
    return jsonify({"items": [{"number": c.number, "batch": c.batch_id, "letters": c.letters,
                               "residue_clean": c.residue_clean, "issued_at": c.issued_at.isoformat(),
                               "sha256": c.sha256} for c in ret.list_certificates(db(), g.api_user)]})


@bp.get("/retention/certificates/<number>")
@token_required
def retention_certificate(number: str):
    cert = ret.get_certificate(db(), number, g.api_user)
    return jsonify(json.loads(cert.body))
