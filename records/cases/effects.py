"""The effects of the workflow's transitions: what each step changes on the matter, and the
letters it prepares (issued, numbered and stored by the engine through ``records.cases.notices``)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

import json

from records import sealing
from records.cases import deadlines
from records.cases.declarations import STAGE_OF_STATUS, Context
from records.cases.models import Finding
from records.errors import Conflict
from records.reference import letterhead
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
    r = c.record
    r.accepted_on = c.today
    r.remit = c.params.remit
    if c.params.remit:
        c.detail["remit"] = c.params.remit
    if c.params.review_of_unit is not None:
        r.review_of_unit = c.params.review_of_unit.code
        c.detail["review_of_unit"] = r.review_of_unit
    _sync_due_columns(c)
    c.letters.append(("acceptance_notice", {**_letter_base(c), "accepted_on": r.accepted_on, "due_on": r.due_on,
                                            "review_of_unit": _unit_name(c, r.review_of_unit)}))


def _unit_name(c: Context, code: str | None) -> str | None:
    if not code:
        return None
    office = c.session.execute(select(Office).where(Office.code == code)).scalar_one_or_none()
    return office.name if office else code


def assign(c: Context) -> None:
    c.record.office_id = c.params.office.id
    c.record.office = c.params.office
    c.record.transferred_unit = None
    c.record.routed_on = c.today
    _approve(c)
    c.detail["office"] = c.params.office.code
    _routing_letters(c, "assignment", c.params.office.name)


def transfer(c: Context) -> None:
    intake = _intake(c.session)
    c.record.office_id = intake.id
    c.record.office = intake
    c.record.transferred_unit = c.params.unit.code
    c.record.routed_on = c.today
    _approve(c)
    c.detail["unit"] = c.params.unit.code
    _routing_letters(c, "transfer", c.params.unit.name)


def _routing_letters(c: Context, how: str, to: str) -> None:
    """交辦函 / 轉送函 to the office or unit, and the notice of it to the petitioner."""
    base = {**_letter_base(c), "accepted_on": c.record.accepted_on, "due_on": c.record.due_on, "to": to,
            "handed_down_due_on": c.record.handed_down_due_on}
    c.letters.append((f"{how}_letter", dict(base)))
    c.letters.append((f"{how}_notice", dict(base)))


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
    c.letters.append(("direct_answer", {**_letter_base(c), "text": c.params.text}))


def decline_authority(c: Context) -> None:
    _decide(c)
    c.record.decision_reason = "outside_authority"
    c.letters.append(("not_accepted_outside_authority", {**_letter_base(c), "reason": c.params.reason}))


def decline_legal(c: Context) -> None:
    _decide(c)
    c.record.decision_reason = c.params.reason
    c.detail["channel"] = c.params.reason
    c.letters.append(("not_accepted_legal_channel", {**_letter_base(c), "channel": c.params.reason}))


def store(c: Context) -> None:
    _decide(c)
    c.record.stored_reason = c.params.reason
    c.detail["stored_reason"] = c.params.reason
    if c.params.repeat_of is not None:
        c.record.repeat_of_id = c.params.repeat_of.id
        c.detail["repeat_of"] = c.params.repeat_of.serial


def extend(c: Context) -> None:
    _extend(c, c.params.days, c.params.reason)


def _extend(c: Context, days: int, reason: str | None) -> None:
    c.record.extended_days = days
    c.record.extended_on = c.today
    c.record.extension_approved_by_id = c.by.id
    c.session.expire(c.record, ["extension_approved_by"])
    _sync_due_columns(c)
    c.detail["days"] = days
    c.detail["due_on"] = c.record.due_on.isoformat()
    c.letters.append(("extension_notice", {**_letter_base(c), "accepted_on": c.record.accepted_on,
                                           "days": days, "due_on": c.record.due_on, "reason": reason}))


def request_extension(c: Context) -> None:
    """Art 15: the handling office asks; the leader overseeing it decides."""
    r = c.record
    r.extension_requested_days = c.params.days
    r.extension_requested_on = c.today
    r.extension_requested_by_id = c.by.id
    c.detail["days"] = c.params.days


def approve_extension(c: Context) -> None:
    r = c.record
    days = r.extension_requested_days
    c.detail["requested_on"] = r.extension_requested_on.isoformat()
    _extend(c, days, extension_request_reason(c))
    _clear_extension_request(r)


def refuse_extension(c: Context) -> None:
    c.detail["days"] = c.record.extension_requested_days
    _clear_extension_request(c.record)


def _clear_extension_request(r) -> None:
    r.extension_requested_days = None
    r.extension_requested_on = None
    r.extension_requested_by_id = None


def extension_request_reason(c: Context) -> str | None:
    """The reason the handling office gave (the sealed note of its request)."""
    event = next((e for e in reversed(c.record.events) if e.kind == "request_extension"), None)
    if event is None or event.note_sealed is None:
        return None
    return sealing.open_json(c.session, c.record, "event-note", event.note_sealed, event.id)


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
    finding.action_due_on = f.get("action_due_on")
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


def superior_body(c: Context) -> str:
    """The body above us that reviews our decisions (Art 9), from the letterhead settings."""
    return letterhead.current(c.session).superior_body


def reply_letter(c: Context) -> tuple[str, dict]:
    """The written answer's template and context (for issuing, and for the handler's preview)."""
    finding = _latest_finding(c, "handling")
    r = c.record
    reviewing = bool(r.review_of_unit)
    return ("review_reply" if reviewing else "reply", {
        **_letter_base(c), "issued_on": c.params.on or c.today, "text": c.params.text,
        "finding": finding.get("outcome"), "corrective_action": finding.get("corrective_action"),
        "accepted_on": r.accepted_on, "superior_body": superior_body(c),
        "window_days": c.cal.limits.rereview_request_days if reviewing else c.cal.limits.review_request_days,
        "review_of_unit": _unit_name(c, r.review_of_unit)})


def reply(c: Context) -> None:
    """Issue the written answer: keep its finding, date it, and prepare the letter (the one the
    handler previewed). A matter that reviews a subordinate unit's decision is answered with our
    review opinion (複查意見書). The draft, if any, is done with."""
    letter = reply_letter(c)
    _save_finding(c)
    r = c.record
    on = c.params.on or c.today
    r.replied_on = on
    r.reply_received_on = c.params.received_on
    r.reply_draft_sealed, r.reply_draft_at, r.reply_draft_by_id = None, None, None
    c.detail["replied_on"] = on.isoformat()
    if r.reply_received_on:
        c.detail["received_on"] = r.reply_received_on.isoformat()
    c.letters.append(letter)


def request_review(c: Context) -> None:
    """The petitioner asked the superior body to review our decision (複查)."""
    r = c.record
    r.review_requested_on = c.params.on or c.today
    r.review_body = c.params.body or superior_body(c)
    _sync_due_columns(c)
    c.detail["requested_on"] = r.review_requested_on.isoformat()


def request_rereview(c: Context) -> None:
    """The petitioner asked the body above the reviewing body for re-review (複核)."""
    r = c.record
    r.rereview_requested_on = c.params.on or c.today
    r.rereview_body = c.params.body
    _sync_due_columns(c)
    c.detail["requested_on"] = r.rereview_requested_on.isoformat()


def _outcome(c: Context, prefix: str) -> None:
    r = c.record
    on = c.params.on or c.today
    setattr(r, f"{prefix}replied_on", on)
    setattr(r, f"{prefix}outcome", c.params.outcome)
    setattr(r, f"{prefix}document_number", c.params.document_number)
    setattr(r, f"{prefix}reply_received_on", c.params.received_on)
    c.detail.update({"outcome": c.params.outcome, "decided_on": on.isoformat()})
    if c.params.document_number:
        c.detail["document_number"] = c.params.document_number
    if c.params.document is not None:
        # the decision itself, sealed like every attachment (its text extracted by intake's hook)
        from records.cases.attachments import add_attachment  # noqa: PLC0415 - attachments import intake

        upload, mime = c.params.document
        att = add_attachment(c.session, r, upload, mime, by=c.by, kind=f"{prefix}decision")
        c.detail["decision_document"] = att.uid


def record_review_outcome(c: Context) -> None:
    _outcome(c, "review_")


def record_rereview_outcome(c: Context) -> None:
    _outcome(c, "rereview_")


def conclude(c: Context) -> None:
    c.record.concluded_at = c.now


def record_finding(c: Context) -> None:
    _save_finding(c)


def acknowledge_receipt(c: Context) -> None:
    """The day the petitioner received the written answer (e.g. from the postal receipt)."""
    if c.record.status == "replied":
        c.record.reply_received_on = c.params.on
    else:
        c.record.review_reply_received_on = c.params.on
    c.detail["received_on"] = c.params.on.isoformat()


def record_handed_down(c: Context) -> None:
    """交辦件: the higher body, its document number, its own deadline and whether it wants a 報結."""
    r = c.record
    r.handed_down_by = c.params.body
    r.handed_down_number = c.params.document_number
    r.handed_down_due_on = c.params.due_on
    r.report_back_required = bool(c.params.report_back) if c.params.report_back is not None else True
    c.detail.update({"handed_down_due_on": r.handed_down_due_on.isoformat(),
                     "report_back": r.report_back_required})


def report_back(c: Context) -> None:
    """報結: the result reported to the body that handed the matter down."""
    r = c.record
    r.reported_back_on = c.params.on or c.today
    c.detail["reported_back_on"] = r.reported_back_on.isoformat()
    finding = _latest_finding(c, "handling")
    c.letters.append(("report_back", {**_letter_base(c), "issued_on": r.reported_back_on, "to": r.handed_down_by,
                                      "handed_down_number": r.handed_down_number, "accepted_on": r.accepted_on,
                                      "replied_on": r.replied_on, "status": r.status,
                                      "finding": finding.get("outcome"), "text": c.params.text}))


def flag_major(c: Context) -> None:
    """重大信訪案件 (Art 5): under the chief's oversight from now on."""
    c.record.major_at = c.now
    c.record.major_by_id = c.by.id


def record_representatives(c: Context) -> None:
    people = c.params.representatives
    c.record.representatives_sealed = sealing.seal_json(c.session, c.record, "representatives", people, 1)
    c.detail["representatives"] = len(people)


def record_conduct(c: Context) -> None:
    """Art 16: a structured note of conduct during a visit, sealed in the step's note."""
    conduct = c.params.conduct
    c.sealed_extra = json.dumps({"conduct": conduct}, ensure_ascii=False)
    c.detail.update({"kinds": conduct["kinds"], "actions": conduct["actions"]})


def confirm_corrective_action(c: Context) -> None:
    finding = next(f for f in c.record.findings if f.id == c.params.finding_id)
    finding.action_confirmed_on = c.params.on or c.today
    finding.action_confirmed_by_id = c.by.id
    c.detail.update({"finding": finding.id, "confirmed_on": finding.action_confirmed_on.isoformat()})


def record_cessation(c: Context) -> None:
    """息訪: the petitioner stopped petitioning; the first responder's follow-up ends."""
    c.record.petitioning_ceased_on = c.params.on or c.today
    c.detail["ceased_on"] = c.record.petitioning_ceased_on.isoformat()


def _sync_due_columns(c: Context) -> None:
    """Copy the computed due dates into their columns (for queries); deadlines.py stays the source."""
    r = c.record
    due = deadlines.conclusion_due(c.cal, r)
    r.due_on = due.on if due else None
    review = deadlines.review_reply_due(c.cal, r)
    r.review_due_on = review.on if review else None
    rereview = deadlines.rereview_reply_due(c.cal, r)
    r.rereview_due_on = rereview.on if rereview else None
