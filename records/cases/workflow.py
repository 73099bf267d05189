"""The life of a matter, declared as data (in the spirit of Plone's DCWorkflow).

:data:`STATES` and :data:`TRANSITIONS` are the whole workflow: for each transition the
states it leaves from, the state it goes to, the permission it needs (``records.policy``),
the fields it requires or accepts, its guards and its effects, and the letter it issues.
Print it with ``xinfang workflow table`` (or :func:`format_table`).

:func:`transition` applies one, in this order: check the permission (AccessDenied, or
NotFound when the record is not even visible), check the state (Conflict, 409), check the
input (ValidationError, 422), check the guards (Conflict), apply the effects, then record
an event (who, when, from/to, a sealed note), the letter (an encrypted PDF attachment), an
audit entry and an outbox entry for the search index. :func:`available` lists what a user
may apply now. Services flush; the unit of work commits.

Two steps keep the matter in its state (they have no target): ``record_finding`` (what the
investigation found, P1-3/4) and ``record_receipt`` (the day the petitioner received a
written answer, from which the review window runs).

After the next level has answered a re-review (複核) the matter is final (Art 11): a new
letter from the same petitioner on it is stored with the reason ``concluded_after_rereview``
(see :func:`final_matters_for`).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, fields

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from records import audit, policy, sealing
from records.cases import deadlines
from records.cases.deadlines import Calendar
from records.errors import Conflict, ValidationError
from records.cases.models import Finding
from records.models import IdentityToken, OutboxEntry, Record, RecordEvent
from records.reference.models import Office
from records.accounts.models import User
from records.db import utcnow
from records.cases.schemas import clean_text

# -- vocabularies -------------------------------------------------------------------------

#: Art 11: why a letter is stored (存信) rather than handled.
STORED_REASONS = ("concluded_after_rereview", "repeat_already_answered", "no_reference_value", "unclear_content")
#: Art 10: the legal channel a not-accepted matter belongs to.
LEGAL_CHANNELS = ("litigation", "arbitration", "administrative_reconsideration")
#: P1-3/4: what the investigation found.
FINDING_OUTCOMES = ("substantiated", "partly_substantiated", "not_substantiated")
#: Finding stage by the state the matter is in when the finding is recorded.
STAGE_OF_STATUS = {
    "assigned": "handling", "transferred": "handling", "in_progress": "handling", "extended": "handling",
    "review_requested": "review", "rereview_requested": "rereview",
}

MAX_REASON = 2000
MAX_NOTE = 5000
MAX_TEXT = 20000


@dataclass(frozen=True)
class State:
    name: str
    description: str
    terminal: bool = False


STATES: dict[str, State] = {s.name: s for s in (
    State("registered", "Registered; awaiting the acceptance decision (15 days)."),
    State("accepted", "Accepted with a leader's approval; to be assigned or transferred."),
    State("assigned", "Assigned (交辦) to an internal office."),
    State("transferred", "Transferred (轉辦) to an external unit, which is named."),
    State("in_progress", "Being investigated by the office or unit."),
    State("extended", "Time limit extended once (at most 30 days), petitioner notified."),
    State("replied", "Written reply issued; the petitioner may ask for a review within 30 days of receipt."),
    State("review_requested", "Review (複查) requested; the reviewing office answers within 30 days."),
    State("review_replied", "Review answered; the petitioner may ask for a re-review within 30 days."),
    State("rereview_requested", "Re-review (複核) requested from the next level; answered within 30 days."),
    State("rereview_replied", "Re-review answered: the matter is final (Art 11)."),
    State("answered_directly", "Answered directly (consultation, Art 7)."),
    State("not_accepted", "Not accepted: outside our authority, or belongs to a legal channel (notice issued)."),
    State("stored", "Stored (存信) with an Art 11 reason; packed by region and year for destruction.", True),
    State("concluded", "Concluded (息訪).", True),
)}
TERMINAL = frozenset(s.name for s in STATES.values() if s.terminal)


# -- declarations ------------------------------------------------------------------------------


@dataclass
class Params:
    """A transition's input, cleaned (``None`` when not given)."""

    reason: str | None = None
    note: str | None = None
    text: str | None = None
    office: Office | None = None
    unit: Office | None = None
    days: int | None = None
    on: dt.date | None = None
    received_on: dt.date | None = None
    finding: dict | None = None
    repeat_of: Record | None = None


@dataclass
class Context:
    """Everything a guard or an effect sees."""

    session: Session
    record: Record
    by: User
    cal: Calendar
    today: dt.date
    now: dt.datetime
    params: Params
    #: Clear details for the audit entry (codes, ids, dates; never text).
    detail: dict = field(default_factory=dict)
    #: The letter to issue: (template, context), set by an effect.
    letter: tuple[str, dict] | None = None


@dataclass(frozen=True)
class Guard:
    description: str
    check: Callable[[Context], str | None]
    #: Depends on the input, so :func:`available` cannot evaluate it in advance.
    uses_input: bool = False
    #: When set, a refusal is bad input in this field (422) rather than a conflict (409).
    field: str | None = None


@dataclass(frozen=True)
class Effect:
    description: str
    apply: Callable[[Context], None]


@dataclass(frozen=True)
class Transition:
    name: str
    description: str
    sources: tuple[str, ...]
    #: None: the matter stays in its state (a recorded step, not a move).
    target: str | None
    permission: str
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    guards: tuple[Guard, ...] = ()
    effects: tuple[Effect, ...] = ()
    #: The letter template (records/replies.py) the transition issues, if any.
    letter: str | None = None
    #: When ``reason`` is a code rather than free text: the codes allowed.
    reason_codes: tuple[str, ...] = ()

    @property
    def fields(self) -> tuple[str, ...]:
        return self.required + self.optional


# -- guards -----------------------------------------------------------------------------------------


def _g_extension_allowed(c: Context) -> str | None:
    return deadlines.extension_refusal(c.cal, c.record, c.today)


def _g_extension_days(c: Context) -> str | None:
    return deadlines.extension_days_problem(c.cal, c.params.days)


def _g_return_window(c: Context) -> str | None:
    window = deadlines.return_window(c.cal, c.record)
    if window is None:
        return "This matter was not routed, so there is nothing to return."
    if c.today > window.on:
        return (f"A mis-sent matter can be returned within {window.days} working days; that window closed on "
                f"{window.on.isoformat()} ({window.explain()}).")
    return None


def _request_window(kind: str, what: str) -> Callable[[Context], str | None]:
    def check(c: Context) -> str | None:
        make = deadlines.review_request_window if kind == "review" else deadlines.rereview_request_window
        on = c.params.on or c.today
        if on > c.today:
            return f"The {what} cannot be dated in the future ({on.isoformat()})."
        return deadlines.window_refusal(make(c.cal, c.record), on, what)
    return check


def _finding_for_stage(c: Context) -> str | None:
    stage = STAGE_OF_STATUS.get(c.record.status)
    if c.params.finding is None and not any(f.stage == stage for f in c.record.findings):
        return ("Record what the investigation found first (substantiated, partly substantiated or not "
                "substantiated): send 'finding' with this reply, or apply 'record_finding'.")
    return None


def _reply_dates(c: Context) -> str | None:
    on = c.params.on or c.today
    start = _stage_start(c.record)
    if on > c.today:
        return f"The reply cannot be dated in the future ({on.isoformat()})."
    if start and on < start:
        return f"The reply cannot be dated {on.isoformat()}, before {start.isoformat()} when this stage began."
    received = c.params.received_on
    if received is not None and not on <= received <= c.today:
        return (f"The day the petitioner received the reply must be between the reply ({on.isoformat()}) "
                f"and today ({c.today.isoformat()}).")
    return None


def _stage_start(record: Record) -> dt.date | None:
    if record.status == "review_requested":
        return record.review_requested_on
    if record.status == "rereview_requested":
        return record.rereview_requested_on
    return record.accepted_on


def _receipt_dates(c: Context) -> str | None:
    replied = c.record.replied_on if c.record.status == "replied" else c.record.review_replied_on
    on = c.params.on
    if on is None:
        return None
    if on > c.today:
        return f"The day of receipt cannot be in the future ({on.isoformat()})."
    if replied and on < replied:
        return f"The reply was issued on {replied.isoformat()}; it cannot have been received before."
    return None


def _conclusion_reason(c: Context) -> str | None:
    window = deadlines.current_due(c.cal, c.record)
    if window is not None and window.is_window and window.met_on is None and c.today <= window.on \
            and not c.params.reason:
        return (f"The petitioner may still ask for a review until {window.on.isoformat()}; concluding before then "
                "needs a reason (e.g. the petitioner declared the matter settled).")
    return None


def _repeat_is_final(c: Context) -> str | None:
    other = c.params.repeat_of
    if other is None:
        return None
    if other.id == c.record.id:
        return "A letter cannot repeat itself."
    if c.params.reason == "concluded_after_rereview" and not is_final(other):
        return f"{other.serial} is not final (no re-review answered), so this cannot be stored as concluded after re-review."
    return None


# -- effects ------------------------------------------------------------------------------------------


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


def _e_accept(c: Context) -> None:
    _decide(c)
    _approve(c)
    c.record.accepted_on = c.today
    _sync_due_columns(c)


def _e_assign(c: Context) -> None:
    c.record.office_id = c.params.office.id
    c.record.office = c.params.office
    c.record.transferred_unit = None
    c.record.routed_on = c.today
    _approve(c)
    c.detail["office"] = c.params.office.code


def _e_transfer(c: Context) -> None:
    intake = _intake(c.session)
    c.record.office_id = intake.id
    c.record.office = intake
    c.record.transferred_unit = c.params.unit.code
    c.record.routed_on = c.today
    _approve(c)
    c.detail["unit"] = c.params.unit.code


def _e_return(c: Context) -> None:
    c.detail["returned_by"] = c.record.transferred_unit or c.record.office.code
    intake = _intake(c.session)
    c.record.office_id = intake.id
    c.record.office = intake
    c.record.transferred_unit = None
    c.record.routed_on = None


def _letter_base(c: Context) -> dict:
    return {"received_on": c.cal.local_date(c.record.received_at), "issued_on": c.params.on or c.today}


def _e_answer(c: Context) -> None:
    _decide(c)
    c.letter = ("direct_answer", {**_letter_base(c), "text": c.params.text})


def _e_decline_authority(c: Context) -> None:
    _decide(c)
    c.record.decision_reason = "outside_authority"
    c.letter = ("not_accepted_outside_authority", {**_letter_base(c), "reason": c.params.reason})


def _e_decline_legal(c: Context) -> None:
    _decide(c)
    c.record.decision_reason = c.params.reason
    c.detail["channel"] = c.params.reason
    c.letter = ("not_accepted_legal_channel", {**_letter_base(c), "channel": c.params.reason})


def _e_store(c: Context) -> None:
    _decide(c)
    c.record.stored_reason = c.params.reason
    c.detail["stored_reason"] = c.params.reason
    if c.params.repeat_of is not None:
        c.record.repeat_of_id = c.params.repeat_of.id
        c.detail["repeat_of"] = c.params.repeat_of.serial


def _e_extend(c: Context) -> None:
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


def _e_reply(c: Context) -> None:
    _answer(c, "reply")


def _e_request_review(c: Context) -> None:
    c.record.review_requested_on = c.params.on or c.today
    _sync_due_columns(c)
    c.detail["requested_on"] = c.record.review_requested_on.isoformat()


def _e_reply_review(c: Context) -> None:
    _answer(c, "review_reply")


def _e_request_rereview(c: Context) -> None:
    c.record.rereview_requested_on = c.params.on or c.today
    _sync_due_columns(c)
    c.detail["requested_on"] = c.record.rereview_requested_on.isoformat()


def _e_reply_rereview(c: Context) -> None:
    _answer(c, "rereview_reply")


def _e_conclude(c: Context) -> None:
    c.record.concluded_at = c.now


def _e_record_finding(c: Context) -> None:
    _save_finding(c)


def _e_record_receipt(c: Context) -> None:
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


# -- the workflow ------------------------------------------------------------------------------------


TRANSITIONS: dict[str, Transition] = {t.name: t for t in (
    Transition("accept", "Accept the matter (受理), with the leader's approval (批示).",
               ("registered",), "accepted", policy.DECIDE, optional=("note",),
               effects=(Effect("decided_by, approved_by := actor; accepted_on := today; "
                               "due_on := accepted + 60 days", _e_accept),)),
    Transition("assign", "Assign (交辦) to an internal office, with the leader's approval.",
               ("accepted",), "assigned", policy.DECIDE, required=("office",), optional=("note",),
               effects=(Effect("office := the internal office; routed_on := today; approved_by := actor",
                               _e_assign),)),
    Transition("transfer", "Transfer (轉辦) to an external unit, named; the petition office supervises it.",
               ("accepted",), "transferred", policy.DECIDE, required=("unit",), optional=("note",),
               effects=(Effect("transferred_unit := the unit; office := intake; routed_on := today; "
                               "approved_by := actor", _e_transfer),)),
    Transition("return", "Return a matter that is not the remit of the office or unit it was sent to.",
               ("assigned", "transferred"), "accepted", policy.HANDLE, required=("reason",),
               guards=(Guard("within 5 working days of the assignment or transfer", _g_return_window),),
               effects=(Effect("office := intake; transferred_unit, routed_on := none", _e_return),)),
    Transition("answer_directly", "Answer directly (Art 7): a consultation answered at this level.",
               ("registered",), "answered_directly", policy.DECIDE, required=("text",), optional=("note",),
               effects=(Effect("decided_by := actor", _e_answer),), letter="direct_answer"),
    Transition("decline_outside_authority",
               "Not accepted: outside our authority (Art 6); the notice says where to turn.",
               ("registered",), "not_accepted", policy.DECIDE, required=("reason",), optional=("note",),
               effects=(Effect("decided_by := actor; decision_reason := outside_authority", _e_decline_authority),),
               letter="not_accepted_outside_authority"),
    Transition("decline_legal_channel",
               "Not accepted: belongs to litigation, arbitration or administrative reconsideration (Art 10); "
               "the notice names the channel.",
               ("registered",), "not_accepted", policy.DECIDE, required=("reason",), optional=("note",),
               reason_codes=LEGAL_CHANNELS,
               effects=(Effect("decided_by := actor; decision_reason := the channel", _e_decline_legal),),
               letter="not_accepted_legal_channel"),
    Transition("store", "Store the letter (存信) with an Art 11 reason.",
               ("registered",), "stored", policy.STORE_LETTER, required=("reason",),
               optional=("note", "repeat_of"), reason_codes=STORED_REASONS,
               guards=(Guard("repeat_of, if given, is another matter; final when the reason is "
                             "concluded_after_rereview", _repeat_is_final, uses_input=True),),
               effects=(Effect("decided_by := actor; stored_reason := reason; repeat_of := the earlier matter",
                               _e_store),)),
    Transition("start", "Start the investigation.", ("assigned", "transferred"), "in_progress", policy.HANDLE,
               optional=("note",)),
    Transition("extend", "Extend the time limit once, at most 30 days, with a reason; the petitioner is notified.",
               ("assigned", "transferred", "in_progress"), "extended", policy.APPROVE_EXTENSION,
               required=("days", "reason"),
               guards=(Guard("not extended before; the time limit has not yet run out", _g_extension_allowed),
                       Guard("1 to 30 days", _g_extension_days, uses_input=True, field="days")),
               effects=(Effect("extended_days, extended_on, extension_approved_by := days, today, actor; "
                               "due_on += days", _e_extend),), letter="extension_notice"),
    Transition("reply", "Issue the written reply (書面答覆) with the findings.",
               ("in_progress", "extended"), "replied", policy.HANDLE, required=("text",),
               optional=("finding", "on", "received_on", "note"),
               guards=(Guard("a finding of this stage is recorded or given", _finding_for_stage, uses_input=True),
                       Guard("dated between acceptance and today; received between the reply and today",
                             _reply_dates, uses_input=True)),
               effects=(Effect("finding saved; replied_on := on or today; reply_received_on := received_on "
                               "or replied_on", _e_reply),), letter="reply"),
    Transition("request_review", "Register the petitioner's request for review (複查).",
               ("replied",), "review_requested", policy.REGISTER_REVIEW, optional=("on", "note"),
               guards=(Guard("dated within 30 days of receiving the reply", _request_window("review", "review request"),
                             uses_input=True),),
               effects=(Effect("review_requested_on := on or today; review_due_on := + 30 days",
                               _e_request_review),)),
    Transition("reply_review", "Issue the review's written answer (複查意見).",
               ("review_requested",), "review_replied", policy.HANDLE, required=("text",),
               optional=("finding", "on", "received_on", "note"),
               guards=(Guard("a finding of this stage is recorded or given", _finding_for_stage, uses_input=True),
                       Guard("dated between the request and today", _reply_dates, uses_input=True)),
               effects=(Effect("finding saved; review_replied_on, review_reply_received_on set", _e_reply_review),),
               letter="review_reply"),
    Transition("request_rereview", "Register the petitioner's request for re-review (複核) by the next level.",
               ("review_replied",), "rereview_requested", policy.REGISTER_REVIEW, optional=("on", "note"),
               guards=(Guard("dated within 30 days of receiving the review answer",
                             _request_window("rereview", "re-review request"), uses_input=True),),
               effects=(Effect("rereview_requested_on := on or today; rereview_due_on := + 30 days",
                               _e_request_rereview),)),
    Transition("reply_rereview", "Record the next level's re-review answer (複核意見): the matter becomes final.",
               ("rereview_requested",), "rereview_replied", policy.DECIDE, required=("text",),
               optional=("finding", "on", "received_on", "note"),
               guards=(Guard("a finding of this stage is recorded or given", _finding_for_stage, uses_input=True),
                       Guard("dated between the request and today", _reply_dates, uses_input=True)),
               effects=(Effect("finding saved; rereview_replied_on set (final)", _e_reply_rereview),),
               letter="rereview_reply"),
    Transition("conclude", "Conclude the matter (息訪).",
               ("answered_directly", "not_accepted", "replied", "review_replied", "rereview_replied"),
               "concluded", policy.DECIDE, optional=("reason", "note"),
               guards=(Guard("a reason when the petitioner's review window is still open", _conclusion_reason,
                             uses_input=True),),
               effects=(Effect("concluded_at := now", _e_conclude),)),
    Transition("record_finding", "Record what the investigation found (P1-3/4); the state does not change.",
               tuple(STAGE_OF_STATUS), None, policy.HANDLE, required=("finding",), optional=("note",),
               effects=(Effect("a finding of the current stage (sealed action and evidence)", _e_record_finding),)),
    Transition("record_receipt", "Record the day the petitioner received the written answer; the review "
               "window runs from it.", ("replied", "review_replied"), None, policy.REGISTER_REVIEW,
               required=("on",), optional=("note",),
               guards=(Guard("between the reply and today", _receipt_dates, uses_input=True),),
               effects=(Effect("reply_received_on (or review_reply_received_on) := on", _e_record_receipt),)),
)}

#: The transition names of the public API, in the order of a matter's life.
NAMES = tuple(TRANSITIONS)


# -- input --------------------------------------------------------------------------------------


def _parse_date(value, name: str, errors: dict) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    errors[name] = "Use a date like 2026-11-25."
    return None


def _office(session: Session, code, name: str, errors: dict, *, external: bool) -> Office | None:
    if not isinstance(code, str) or not code.strip():
        errors[name] = "Choose an external unit." if external else "Choose an office."
        return None
    office = session.execute(select(Office).where(Office.code == code.strip())).scalar_one_or_none()
    if office is None:
        errors[name] = f"No office or unit with code {code.strip()[:32]!r}."
    elif external and not office.is_external:
        errors[name] = "A transfer goes to an external unit (a county or district department); use 'assign' " \
                       "for an internal office."
    elif not external and (office.is_external or office.is_intake):
        errors[name] = "Assign to one of our internal offices (not the intake, not an external unit; " \
                       "use 'transfer' for those)."
    else:
        return office
    return None


def _finding(raw, errors: dict) -> dict | None:
    if raw is None or raw == {}:
        return None
    if not isinstance(raw, dict):
        errors["finding"] = "Must be an object with outcome, corrective_action, evidence."
        return None
    unknown = set(raw) - {"outcome", "corrective_action", "evidence"}
    if unknown:
        errors["finding"] = "Unknown field(s): " + ", ".join(sorted(str(k) for k in unknown)[:5]) + "."
        return None
    outcome = raw.get("outcome")
    if outcome not in FINDING_OUTCOMES:
        errors["finding.outcome"] = "Must be one of: " + ", ".join(FINDING_OUTCOMES) + "."
    action = clean_text(raw.get("corrective_action"), "finding.corrective_action", errors, required=False,
                        max_len=MAX_NOTE, multiline=True)
    evidence = clean_text(raw.get("evidence"), "finding.evidence", errors, required=False, max_len=MAX_TEXT,
                          multiline=True)
    return {"outcome": outcome, "corrective_action": action, "evidence": evidence}


def parse(session: Session, spec: Transition, raw: dict) -> Params:
    """Clean the input of ``spec``: required fields present, unused ones refused, each named."""
    errors: dict[str, str] = {}
    given = {k: v for k, v in raw.items() if v is not None and v != "" and v != {}}
    if spec.name == "transfer" and "unit" not in given and "office" in given:
        given["unit"] = given.pop("office")   # the API's generic 'office' names the unit of a transfer
    for name in sorted(set(given) - set(spec.fields)):
        errors[name] = f"Not used by '{spec.name}'."
    for name in spec.required:
        if name not in given:
            errors[name] = "This field is required."
    p = Params()
    if "reason" in given:
        if spec.reason_codes:
            if given["reason"] not in spec.reason_codes:
                errors["reason"] = "Must be one of: " + ", ".join(spec.reason_codes) + "."
            else:
                p.reason = given["reason"]
        else:
            p.reason = clean_text(given["reason"], "reason", errors, required=True, max_len=MAX_REASON,
                                  multiline=True) or None
    if "note" in given:
        p.note = clean_text(given["note"], "note", errors, required=False, max_len=MAX_NOTE, multiline=True) or None
    if "text" in given:
        p.text = clean_text(given["text"], "text", errors, required=True, max_len=MAX_TEXT, multiline=True) or None
    if "office" in given and "office" in spec.fields:
        p.office = _office(session, given["office"], "office", errors, external=False)
    if "unit" in given and "unit" in spec.fields:
        p.unit = _office(session, given["unit"], "unit", errors, external=True)
    if "days" in given:
        days = given["days"]
        if isinstance(days, str) and days.strip().lstrip("-").isdigit():
            days = int(days.strip())
        if isinstance(days, bool) or not isinstance(days, int):
            errors["days"] = "Must be a whole number of days."
        else:
            p.days = days
    if "on" in given:
        p.on = _parse_date(given["on"], "on", errors)
    if "received_on" in given:
        p.received_on = _parse_date(given["received_on"], "received_on", errors)
    if "finding" in given and "finding" in spec.fields:
        p.finding = _finding(given["finding"], errors)
    if "repeat_of" in given and "repeat_of" in spec.fields:
        serial = given["repeat_of"]
        other = session.execute(select(Record).where(Record.serial == serial)).scalar_one_or_none() \
            if isinstance(serial, str) else None
        if other is None:
            errors["repeat_of"] = "No record with that serial."
        p.repeat_of = other
    if errors:
        raise ValidationError(f"The '{spec.name}' step cannot be applied as given.", fields=errors)
    return p


# -- applying -------------------------------------------------------------------------------------


@dataclass
class Applied:
    """What a transition did."""

    record: Record
    event: RecordEvent
    #: The letter issued (an encrypted attachment), if the transition issues one.
    document: object | None = None


def _now_for(cal: Calendar, today: dt.date | None) -> tuple[dt.date, dt.datetime]:
    if today is None:
        now = utcnow()
        return cal.local_date(now), now
    return today, dt.datetime.combine(today, dt.time(12, 0), tzinfo=cal.tz).astimezone(dt.UTC)


def _state_refusal(spec: Transition, record: Record, c: Context) -> str:
    """Why ``spec`` cannot leave the record's state, with the most specific reason there is."""
    if record.status in TERMINAL:
        return f"The matter is {record.status}; nothing more can be done with it."
    possible = [t.name for t in TRANSITIONS.values() if record.status in t.sources]
    message = (f"'{spec.name}' is not possible while the matter is {record.status} (it needs "
               f"{' or '.join(spec.sources)}). From {record.status}: {', '.join(possible) or 'nothing'}.")
    for guard in spec.guards:
        if not guard.uses_input:
            problem = guard.check(c)
            if problem:
                message += " " + problem
    return message


def transition(session: Session, record: Record, name: str, *, by: User, reason: str | None = None,
               office: str | None = None, unit: str | None = None, days: int | str | None = None,
               text: str | None = None, note: str | None = None, on=None, received_on=None,
               finding: dict | None = None, repeat_of: str | None = None, today: dt.date | None = None,
               address: str = "") -> Applied:
    """Apply transition ``name`` to ``record`` as ``by``; see the module's docstring for the order of checks.

    ``today`` fixes the office's date of the step (the default is the real date; tests and
    imports of old matters pass it)."""
    spec = TRANSITIONS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise ValidationError("Unknown transition.", fields={"transition": "Must be one of: " + ", ".join(NAMES) + "."})
    policy.require(by, spec.permission, record)
    # two people acting at once: lock the row (PostgreSQL; SQLite's writers queue already),
    # then read it again, so the second sees what the first did
    session.flush()
    session.execute(select(Record.id).where(Record.id == record.id).with_for_update())
    session.refresh(record)
    cal = deadlines.calendar_for(session)
    day, now = _now_for(cal, today)
    probe = Context(session, record, by, cal, day, now, Params())
    if record.status not in spec.sources:
        raise Conflict(_state_refusal(spec, record, probe))
    raw = {"reason": reason, "office": office, "unit": unit, "days": days, "text": text, "note": note, "on": on,
           "received_on": received_on, "finding": finding, "repeat_of": repeat_of}
    params = parse(session, spec, raw)
    c = Context(session, record, by, cal, day, now, params)
    for guard in spec.guards:
        if not guard.uses_input:
            problem = guard.check(c)
            if problem:
                raise Conflict(problem)
    for guard in spec.guards:
        if guard.uses_input:
            problem = guard.check(c)
            if problem:
                if guard.field:
                    raise ValidationError(problem, fields={guard.field: problem})
                raise Conflict(problem)

    old = record.status
    for effect in spec.effects:
        effect.apply(c)
    if spec.target is not None:
        record.status = spec.target
    record.updated_at = utcnow()

    event = RecordEvent(record=record, actor_id=by.id, kind=spec.name, from_status=old, to_status=record.status)
    session.add(event)
    session.flush()
    note_text = "\n\n".join(t for t in ((params.reason if not spec.reason_codes else None), params.text,
                                       params.note) if t)
    if note_text:
        event.note_sealed = sealing.seal_json(session, record, "event-note", note_text, event.id)

    document = None
    if spec.letter and c.letter is not None:
        from records.cases import notices as replies

        kind, letter_context = c.letter
        document = replies.issue(session, record, kind, letter_context, by=by)
        c.detail["document"] = document.uid
    session.add(OutboxEntry(record_uid=record.uid, op="index"))
    session.flush()
    detail = {"transition": spec.name, "from": old, "to": record.status, "on": day.isoformat(), **c.detail}
    if spec.reason_codes and params.reason:
        detail["reason"] = params.reason
    audit.record(session, "record.transition", actor=by, target=record.serial, address=address, detail=detail)
    return Applied(record=record, event=event, document=document)


def available(session: Session, record: Record, user: User, *, today: dt.date | None = None) -> list[str]:
    """The transitions ``user`` may apply to ``record`` now (state, permission and the guards
    that do not depend on input)."""
    if user is None:
        return []
    cal = deadlines.calendar_for(session)
    day, now = _now_for(cal, today)
    c = Context(session, record, user, cal, day, now, Params())
    names = []
    for spec in TRANSITIONS.values():
        if record.status not in spec.sources or not policy.can(user, spec.permission, record):
            continue
        if any(g.check(c) for g in spec.guards if not g.uses_input):
            continue
        names.append(spec.name)
    return names


# -- reading --------------------------------------------------------------------------------------------


def is_final(record: Record) -> bool:
    """Concluded after re-review (複核終結): the next level has answered."""
    return record.rereview_replied_on is not None


def final_matters_for(session: Session, tokens: Iterable[tuple[str, bytes]], *,
                      kinds: tuple[str, ...] = ("id_number", "phone")) -> list[Record]:
    """Final matters (see :func:`is_final`) of the petitioner whose identity tokens are ``tokens``
    (``identity.tokens_for``), newest first. Only strong identifiers count by default: a name
    alone is shared by many people.

    For the registration flow: when this returns matters for the new letter's petitioner on
    the same issue, offer the clerk to store the letter with the reason
    ``concluded_after_rereview`` and ``repeat_of`` = one of these serials. No access check
    and no decryption here: the caller shows at most the serials the user may see."""
    pairs = [(k, t) for k, t in tokens if k in kinds]
    if not pairs:
        return []
    ids = select(IdentityToken.record_id).where(tuple_(IdentityToken.kind, IdentityToken.token).in_(pairs))
    return list(session.execute(
        select(Record).where(Record.id.in_(ids), Record.rereview_replied_on.is_not(None))
        .order_by(Record.received_at.desc())).scalars())


def final_matters_for_petitioner(session: Session, petitioner: dict) -> list[Record]:
    """:func:`final_matters_for` from a petitioner block as registered (name, id_number, phone)."""
    from records import identity
    from records.instance import instance_of

    key = instance_of(session).purpose_key("identity")
    return final_matters_for(session, identity.tokens_for(key, petitioner))


@dataclass
class FindingView:
    stage: str
    outcome: str
    at: dt.datetime
    by: str
    corrective_action: str | None = None
    evidence: str | None = None


@dataclass
class Summary:
    """What the record page and the API show of a matter's life, for one viewer."""

    status: str
    terminal: bool
    final: bool
    dues: list[deadlines.Due]
    current: deadlines.Due | None
    #: The viewer may read the sealed reasons and findings.
    with_content: bool
    transitions: list[str]
    findings: list[FindingView]
    today: dt.date


def extension_reason(session: Session, record: Record) -> str | None:
    """The sealed reason of the extension (content: only for those who may read it)."""
    event = next((e for e in reversed(record.events) if e.kind == "extend"), None)
    if event is None or event.note_sealed is None:
        return None
    return sealing.open_json(session, record, "event-note", event.note_sealed, event.id)


def summary(session: Session, record: Record, user: User, *, today: dt.date | None = None) -> Summary:
    """The due dates (with reasons only for content readers), findings and available steps.

    Call it after ``operations.view``, whose audit entry covers reading the sealed parts."""
    cal = deadlines.calendar_for(session)
    day, _ = _now_for(cal, today)
    with_content = policy.can(user, policy.VIEW_CONTENT, record)
    reason = extension_reason(session, record) if with_content and record.extended_days else None
    dues = deadlines.dues(cal, record, extension_reason=reason)
    kind = deadlines.CLOCK_OF_STATUS.get(record.status)
    current = next((d for d in dues if d.kind == kind), None)
    findings = []
    for f in record.findings:
        view = FindingView(stage=f.stage, outcome=f.outcome, at=f.created_at,
                           by=f.created_by.display_name if f.created_by else "")
        if with_content:
            view.corrective_action = sealing.open_json(session, record, "finding-action", f.corrective_action_sealed,
                                                       f.id) if f.corrective_action_sealed else ""
            view.evidence = sealing.open_json(session, record, "finding-evidence", f.evidence_sealed, f.id) \
                if f.evidence_sealed else ""
        findings.append(view)
    return Summary(status=record.status, terminal=record.status in TERMINAL, final=is_final(record), dues=dues,
                   current=current, with_content=with_content, transitions=available(session, record, user, today=day),
                   findings=findings, today=day)


# -- the printable table ---------------------------------------------------------------------------------


def _roles(permission: str) -> str:
    grants = policy.PERMISSIONS[permission]
    return ", ".join(f"{role} ({scope})" for role, scope in grants.items())


def table() -> list[dict]:
    """The workflow as rows, one per transition, for docs and ``xinfang workflow table``."""
    return [{
        "transition": t.name,
        "from": list(t.sources),
        "to": t.target or "(stays)",
        "permission": t.permission,
        "roles": _roles(t.permission),
        "required": list(t.required),
        "optional": list(t.optional),
        "reason_codes": list(t.reason_codes),
        "guards": [g.description for g in t.guards],
        "effects": [e.description for e in t.effects],
        "letter": t.letter,
        "description": t.description,
    } for t in TRANSITIONS.values()]


def format_table(limits: deadlines.Limits | None = None) -> str:
    """The workflow as plain text: states, each transition with everything it needs and does,
    and the time limits in force (``limits``; the defaults when not given)."""
    lines = ["STATES"]
    for s in STATES.values():
        lines.append(f"  {s.name:<20}{' (terminal)' if s.terminal else '':<12}{s.description}")
    lines.append("")
    lines.append("TRANSITIONS")
    for row in table():
        lines.append(f"  {row['transition']}: {' | '.join(row['from'])} -> {row['to']}")
        lines.append(f"      {row['description']}")
        lines.append(f"      permission: {row['permission']} — {row['roles']}")
        if row["required"]:
            lines.append(f"      requires:   {', '.join(row['required'])}")
        if row["optional"]:
            lines.append(f"      accepts:    {', '.join(row['optional'])}")
        if row["reason_codes"]:
            lines.append(f"      reason is one of: {', '.join(row['reason_codes'])}")
        for g in row["guards"]:
            lines.append(f"      guard:      {g}")
        for e in row["effects"]:
            lines.append(f"      effect:     {e}")
        if row["letter"]:
            lines.append(f"      letter:     {row['letter']} (PDF, stored encrypted)")
    limits = limits or deadlines.Limits()
    lines += ["", "TIME LIMITS (records/deadlines.py; days are "
              + ("working days" if limits.working_days else "calendar days") + ")"]
    for f in fields(limits):
        if f.name not in ("working_days", "holidays", "workdays"):
            lines.append(f"  {f.name:<24}{getattr(limits, f.name)}")
    if limits.holidays:
        lines.append("  holidays                " + ", ".join(sorted(d.isoformat() for d in limits.holidays)))
    return "\n".join(lines)
