"""The effects of the workflow's transitions: what each step changes on the matter, and the
letter it prepares (issued by the engine)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from records import sealing
from records.cases import deadlines
from records.cases.declarations import STAGE_OF_STATUS, Context
from records.cases.models import Finding
from records.errors import Conflict
from records.reference.models import Office



def _intake(session: Session) -> Office:
    office = session.execute(select(Office).where(Office.is_intake.is_(True))).scalars().first()
    if office is None:
        raise Conflict("No intake office is configured; run 'xinfang init'.")
    return office


def _decide(c: Context) -> None:
    c.record.decided_at = c.now
    c.record.decided_by_id = c.by.id


def _approve(c: Context) -> None:
    c.record.approved_by_id = c.by.id
    c.record.approved_at = c.now


def accept(c: Context) -> None:
    _decide(c)
    _approve(c)
    c.record.accepted_on = c.today
    _sync_due_columns(c)


def assign(c: Context) -> None:
    c.record.office_id = c.params.office.id
    c.record.office = c.params.office
    c.record.transferred_unit = None
    c.record.routed_on = c.today
    _approve(c)
    c.detail["office"] = c.params.office.code


def transfer(c: Context) -> None:
    intake = _intake(c.session)
    c.record.office_id = intake.id
    c.record.office = intake
    c.record.transferred_unit = c.params.unit.code
    c.record.routed_on = c.today
    _approve(c)
    c.detail["unit"] = c.params.unit.code


def return_to_sender(c: Context) -> None:
    c.detail["returned_by"] = c.record.transferred_unit or c.record.office.code
    intake = _intake(c.session)
    c.record.office_id = intake.id
    c.record.office = intake
    c.record.transferred_unit = None
    c.record.routed_on = None


def _letter_base(c: Context) -> dict:
    return {"received_on": c.cal.local_date(c.record.received_at), "issued_on": c.params.on or c.today}


def answer_directly(c: Context) -> None:
    _decide(c)
    c.letter = ("direct_answer", {**_letter_base(c), "text": c.params.text})


def decline_authority(c: Context) -> None:
    _decide(c)
    c.record.decision_reason = "outside_authority"
    c.letter = ("not_accepted_outside_authority", {**_letter_base(c), "reason": c.params.reason})


def decline_legal(c: Context) -> None:
    _decide(c)
    c.record.decision_reason = c.params.reason
    c.detail["channel"] = c.params.reason
    c.letter = ("not_accepted_legal_channel", {**_letter_base(c), "channel": c.params.reason})


def store(c: Context) -> None:
    _decide(c)
    c.record.stored_reason = c.params.reason
    c.detail["stored_reason"] = c.params.reason
    if c.params.repeat_of is not None:
        c.record.repeat_of_id = c.params.repeat_of.id
        c.detail["repeat_of"] = c.params.repeat_of.serial


def extend(c: Context) -> None:
    c.record.extended_days = c.params.days
    c.record.extended_on = c.today
    c.record.extension_approved_by_id = c.by.id
    c.session.expire(c.record, ["extension_approved_by"])
    _sync_due_columns(c)
    c.detail["days"] = c.params.days
    c.detail["due_on"] = c.record.due_on.isoformat()
    c.letter = ("extension_notice", {**_letter_base(c), "accepted_on": c.record.accepted_on,
                                     "days": c.params.days, "due_on": c.record.due_on,
                                     "reason": c.params.reason})


def _save_finding(c: Context) -> None:
    if c.params.finding is None:
        return
    stage = STAGE_OF_STATUS[c.record.status]
    f = c.params.finding
    finding = Finding(record=c.record, stage=stage, outcome=f["outcome"], created_by_id=c.by.id)
    c.session.add(finding)
    c.session.flush()
    if f.get("corrective_action"):
        finding.corrective_action_sealed = sealing.seal_json(c.session, c.record, "finding-action",
                                                             f["corrective_action"], finding.id)
    if f.get("evidence"):
        finding.evidence_sealed = sealing.seal_json(c.session, c.record, "finding-evidence", f["evidence"], finding.id)
    c.detail["finding"] = {"id": finding.id, "stage": stage, "outcome": f["outcome"]}


def _latest_finding(c: Context, stage: str) -> dict:
    if c.params.finding is not None:
        return c.params.finding
    found = [f for f in c.record.findings if f.stage == stage]
    if not found:
        return {}
    f = found[-1]
    action = sealing.open_json(c.session, c.record, "finding-action", f.corrective_action_sealed, f.id) \
        if f.corrective_action_sealed else ""
    return {"outcome": f.outcome, "corrective_action": action}


#: The three written answers: letter -> (finding stage, column prefix, the limit for asking the next level).
_ANSWERS = {
    "reply": ("handling", "", "review_request_days"),
    "review_reply": ("review", "review_", "rereview_request_days"),
    "rereview_reply": ("rereview", "rereview_", None),
}


def _answer(c: Context, letter: str) -> None:
    """Issue a written answer: keep its finding, date it, and prepare the letter."""
    stage, prefix, window = _ANSWERS[letter]
    finding = _latest_finding(c, stage)
    _save_finding(c)
    r = c.record
    on = c.params.on or c.today
    setattr(r, f"{prefix}replied_on", on)
    setattr(r, f"{prefix}reply_received_on", c.params.received_on or on)
    c.detail["replied_on"] = on.isoformat()
    context = {**_letter_base(c), "issued_on": on, "text": c.params.text, "finding": finding.get("outcome"),
               "corrective_action": finding.get("corrective_action")}
    if prefix:
        context["requested_on"] = getattr(r, f"{prefix}requested_on")
    else:
        c.detail["received_on"] = r.reply_received_on.isoformat()
        context["accepted_on"] = r.accepted_on
    if window:
        context["window_days"] = getattr(c.cal.limits, window)
    c.letter = (letter, context)


def reply(c: Context) -> None:
    _answer(c, "reply")


def request_review(c: Context) -> None:
    c.record.review_requested_on = c.params.on or c.today
    _sync_due_columns(c)
    c.detail["requested_on"] = c.record.review_requested_on.isoformat()


def reply_review(c: Context) -> None:
    _answer(c, "review_reply")


def request_rereview(c: Context) -> None:
    c.record.rereview_requested_on = c.params.on or c.today
    _sync_due_columns(c)
    c.detail["requested_on"] = c.record.rereview_requested_on.isoformat()


def reply_rereview(c: Context) -> None:
    _answer(c, "rereview_reply")


def conclude(c: Context) -> None:
    c.record.concluded_at = c.now


def record_finding(c: Context) -> None:
    _save_finding(c)


def record_receipt(c: Context) -> None:
    if c.record.status == "replied":
        c.record.reply_received_on = c.params.on
    else:
        c.record.review_reply_received_on = c.params.on
    c.detail["received_on"] = c.params.on.isoformat()


def _sync_due_columns(c: Context) -> None:
    """Copy the computed due dates into their columns (for queries); deadlines.py stays the source."""
    r = c.record
    due = deadlines.conclusion_due(c.cal, r)
    r.due_on = due.on if due else None
    review = deadlines.review_reply_due(c.cal, r)
    r.review_due_on = review.on if review else None
    rereview = deadlines.rereview_reply_due(c.cal, r)
    r.rereview_due_on = rereview.on if rereview else None
