"""The workflow as data: every transition with its states, permission, fields, guards, effects
and letter; and the printable table generated from it (``xinfang workflow table``)."""
from __future__ import annotations

from dataclasses import fields

from records import policy
from records.cases import deadlines, effects, guards
from records.cases.declarations import (LEGAL_CHANNELS, STAGE_OF_STATUS, STATES, STORED_REASONS, Effect, Guard,
                                        Transition)

#: States in which a matter is still being handled (before the written answer).
HANDLING = ("accepted", "assigned", "transferred", "in_progress")
#: Every state but the terminal ones.
OPEN = tuple(s for s in STATES if not STATES[s].terminal)
#: States after an answer went out (a handed-down matter can be reported back from them).
ANSWERED = ("replied", "review_requested", "review_replied", "rereview_requested", "rereview_replied",
            "answered_directly", "not_accepted")
_FINDING = Guard("a finding of this stage is recorded or given", guards.finding_for_stage, uses_input=True)
_DATED = Guard("dated between the request and today; received between that and today", guards.reply_dates,
               uses_input=True)
_DOCUMENT = Guard("the document fits within the record's attachments", guards.room_for_document, uses_input=True,
                  field="document")
_NOT_FUTURE = Guard("not dated in the future", guards.dated_not_future, uses_input=True, field="on")

TRANSITIONS: dict[str, Transition] = {t.name: t for t in (
    Transition("accept", "Accept the matter (受理), with the leader's approval (批示); record why the petitioner is "
               "within our remit (Art 4) and, for a review of a subordinate unit's decision, that unit.",
               ("registered",), "accepted", policy.DECIDE, optional=("remit", "review_of_unit", "note"),
               effects=(Effect("decided_by, approved_by := actor; accepted_on := today; remit, review_of_unit := "
                               "given; due_on := accepted + 60 days (30 for a review)", effects.accept),),
               letter="acceptance_notice"),
    Transition("assign", "Assign (交辦) to an internal office, with the leader's approval.",
               ("accepted",), "assigned", policy.DECIDE, required=("office",), optional=("note",),
               effects=(Effect("office := the internal office; routed_on := today; approved_by := actor",
                               effects.assign),), letter="assignment_letter+assignment_notice"),
    Transition("transfer", "Transfer (轉辦) to an external unit, named; the petition office supervises it.",
               ("accepted",), "transferred", policy.DECIDE, required=("unit",), optional=("note",),
               effects=(Effect("transferred_unit := the unit; office := intake; routed_on := today; "
                               "approved_by := actor", effects.transfer),), letter="transfer_letter+transfer_notice"),
    Transition("return", "Return a matter that is not the remit of the office or unit it was sent to.",
               ("assigned", "transferred"), "accepted", policy.HANDLE, required=("reason",),
               guards=(Guard("within 5 working days of the assignment or transfer", guards.return_window),),
               effects=(Effect("office := intake; transferred_unit, routed_on := none", effects.return_to_sender),)),
    Transition("answer_directly", "Answer directly (Art 7): a consultation answered at this level.",
               ("registered",), "answered_directly", policy.DECIDE, required=("text",), optional=("note",),
               effects=(Effect("decided_by := actor", effects.answer_directly),), letter="direct_answer"),
    Transition("decline_outside_authority",
               "Not accepted: outside our authority (Art 6); the notice says where to turn.",
               ("registered",), "not_accepted", policy.DECIDE, required=("reason",), optional=("note",),
               effects=(Effect("decided_by := actor; decision_reason := outside_authority",
                               effects.decline_authority),),
               letter="not_accepted_outside_authority"),
    Transition("decline_legal_channel",
               "Not accepted: belongs to litigation, arbitration or administrative reconsideration (Art 10); "
               "the notice names the channel.",
               ("registered",), "not_accepted", policy.DECIDE, required=("reason",), optional=("note",),
               reason_codes=LEGAL_CHANNELS,
               effects=(Effect("decided_by := actor; decision_reason := the channel", effects.decline_legal),),
               letter="not_accepted_legal_channel"),
    Transition("store", "Store the letter (存信) with an Art 11 reason.",
               ("registered",), "stored", policy.STORE_LETTER, required=("reason",),
               optional=("note", "repeat_of", "confirm_old_received_date"), reason_codes=STORED_REASONS,
               guards=(Guard("concluded_after_rereview names the final matter (repeat_of)", guards.repeat_named,
                             uses_input=True, field="repeat_of"),
                       Guard("repeat_of, if given, is another matter; final when the reason is "
                             "concluded_after_rereview", guards.repeat_is_final, uses_input=True),
                       Guard("a letter received more than a year ago is stored only with its received date "
                             "confirmed (it may be destroyed at once)", guards.old_letter_confirmed,
                             uses_input=True, field="confirm_old_received_date"),),
               effects=(Effect("decided_by := actor; stored_reason := reason; repeat_of := the earlier matter",
                               effects.store),)),
    Transition("start", "Start the investigation.", ("assigned", "transferred"), "in_progress", policy.HANDLE,
               optional=("note",)),
    Transition("request_extension", "The handling office asks for an extension (Art 15): days and reason; the "
               "leader overseeing it approves or refuses.", HANDLING, None, policy.HANDLE,
               required=("days", "reason"),
               guards=(Guard("not extended before; the time limit has not yet run out", guards.extension_allowed),
                       Guard("no request waiting for a decision", guards.no_extension_pending),
                       Guard("1 to 30 days", guards.extension_days, uses_input=True, field="days")),
               effects=(Effect("extension_requested_days, _on, _by := days, today, actor",
                               effects.request_extension),)),
    Transition("approve_extension", "Approve the extension asked for (Art 8): the petitioner is told why.",
               HANDLING, None, policy.APPROVE_EXTENSION, optional=("note",),
               guards=(Guard("an extension was asked for", guards.extension_pending),
                       Guard("not extended before; the time limit has not yet run out", guards.extension_allowed),
                       Guard("the days asked for are 1 to 30", guards.requested_extension_days)),
               effects=(Effect("extended_days := the days asked for; due_on += days; the request is cleared",
                               effects.approve_extension),), letter="extension_notice"),
    Transition("refuse_extension", "Refuse the extension asked for, with a reason.", HANDLING, None,
               policy.APPROVE_EXTENSION, required=("reason",),
               guards=(Guard("an extension was asked for", guards.extension_pending),),
               effects=(Effect("the request is cleared", effects.refuse_extension),)),
    Transition("extend", "Extend the time limit once, at most 30 days, with a reason; the petitioner is notified.",
               ("assigned", "transferred", "in_progress"), "extended", policy.APPROVE_EXTENSION,
               required=("days", "reason"),
               guards=(Guard("not extended before; the time limit has not yet run out", guards.extension_allowed),
                       Guard("1 to 30 days", guards.extension_days, uses_input=True, field="days")),
               effects=(Effect("extended_days, extended_on, extension_approved_by := days, today, actor; "
                               "due_on += days", effects.extend),), letter="extension_notice"),
    Transition("reply", "Issue the written reply (書面答覆) with the findings; it names the superior body the "
               "petitioner may ask for review.",
               ("in_progress", "extended"), "replied", policy.HANDLE, required=("text",),
               optional=("finding", "on", "received_on", "note"),
               guards=(_FINDING, Guard("dated between acceptance and today; received between the reply and today",
                                       guards.reply_dates, uses_input=True)),
               effects=(Effect("finding saved; replied_on := on or today; reply_received_on := received_on "
                               "(until recorded, the review window assumes the reply's date)", effects.reply),),
               letter="reply"),
    Transition("acknowledge_receipt", "Record the day the petitioner received the written answer (e.g. from the "
               "postal receipt); the review window runs from it.", ("replied", "review_replied"), None,
               policy.REGISTER_REVIEW, required=("on",), optional=("note",),
               guards=(Guard("between the reply and today", guards.receipt_dates, uses_input=True),),
               effects=(Effect("reply_received_on (or review_reply_received_on) := on",
                               effects.acknowledge_receipt),)),
    Transition("request_review", "Record that the petitioner asked the superior body for review (複查, Art 9).",
               ("replied",), "review_requested", policy.REGISTER_REVIEW, optional=("on", "body", "note"),
               guards=(Guard("dated within 30 days of receiving the reply",
                             guards.request_window("review", "review request"), uses_input=True),),
               effects=(Effect("review_requested_on := on or today; review_body := body or the letterhead's "
                               "superior body", effects.request_review),)),
    Transition("record_review_outcome", "Record the superior body's review decision: upheld, changed or revoked, "
               "its date, document number and the document itself (a PDF or a scan).",
               ("review_requested",), "review_replied", policy.REGISTER_REVIEW, required=("outcome",),
               optional=("on", "document_number", "received_on", "note", "document"), guards=(_DATED, _DOCUMENT),
               effects=(Effect("review_outcome, review_replied_on, review_document_number := given; the document "
                               "becomes a sealed attachment of kind review_decision", effects.record_review_outcome),)),
    Transition("request_rereview", "Record that the petitioner asked the next level for re-review (複核).",
               ("review_replied",), "rereview_requested", policy.REGISTER_REVIEW, optional=("on", "body", "note"),
               guards=(Guard("dated within 30 days of receiving the review decision",
                             guards.request_window("rereview", "re-review request"), uses_input=True),),
               effects=(Effect("rereview_requested_on := on or today; rereview_body := body",
                               effects.request_rereview),)),
    Transition("record_rereview_outcome", "Record the re-review decision (複核意見): the matter becomes final.",
               ("rereview_requested",), "rereview_replied", policy.REGISTER_REVIEW, required=("outcome",),
               optional=("on", "document_number", "received_on", "note", "document"), guards=(_DATED, _DOCUMENT),
               effects=(Effect("rereview_outcome, rereview_replied_on (final), rereview_document_number := given; "
                               "the document becomes a sealed attachment of kind rereview_decision",
                               effects.record_rereview_outcome),)),
    Transition("conclude", "Conclude the matter.",
               ("answered_directly", "not_accepted", "replied", "review_replied", "rereview_replied"),
               "concluded", policy.DECIDE, optional=("reason", "note"),
               guards=(Guard("a reason when the petitioner's review window is still open", guards.conclusion_reason,
                             uses_input=True),),
               effects=(Effect("concluded_at := now", effects.conclude),)),
    Transition("record_finding", "Record what the investigation found (P1-3/4); the state does not change.",
               tuple(STAGE_OF_STATUS), None, policy.HANDLE, required=("finding",), optional=("note",),
               effects=(Effect("a finding of the current stage (sealed action and evidence; the action's due date)",
                               effects.record_finding),)),
    Transition("confirm_corrective_action", "Confirm that a finding's corrective action was carried out.",
               ("in_progress", "extended") + ANSWERED[:5], None, policy.DECIDE, required=("finding_id",),
               optional=("on", "note"),
               guards=(Guard("the finding has a corrective action not yet confirmed; not dated in the future",
                             guards.action_to_confirm, uses_input=True, field="finding_id"),),
               effects=(Effect("action_confirmed_on, _by := on or today, actor", effects.confirm_corrective_action),)),
    Transition("record_handed_down", "Record that the matter was handed down (交辦件) by a higher body: the body, "
               "its document number, its deadline and whether a report-back (報結) is required.",
               ("registered", *HANDLING, "extended"), None, policy.DECIDE,
               required=("body", "document_number", "due_on"),
               optional=("report_back", "note"),
               guards=(Guard("the deadline is not before the matter came in", guards.handed_down_due,
                             uses_input=True, field="due_on"),),
               effects=(Effect("handed_down_by, _number, _due_on, report_back_required := given",
                               effects.record_handed_down),)),
    Transition("report_back", "Report the result back (報結) to the body that handed the matter down.",
               ANSWERED, None, policy.DECIDE, optional=("text", "on", "note"),
               guards=(Guard("a handed-down matter not yet reported back", guards.report_back_owed), _NOT_FUTURE),
               effects=(Effect("reported_back_on := on or today", effects.report_back),), letter="report_back"),
    Transition("flag_major", "Flag as a major case (重大信訪案件, Art 5): under the chief's oversight, in its own "
               "section of the board and the monthly report.", OPEN, None, policy.DECIDE, required=("reason",),
               guards=(Guard("not flagged already", guards.not_major),),
               effects=(Effect("major_at, major_by := now, actor", effects.flag_major),)),
    Transition("record_representatives", "Record the representatives (at most 5) a collective visit chose; "
               "sealed like the petitioner.", OPEN, None, policy.CORRECT_RECORD, required=("representatives",),
               optional=("note",), guards=(Guard("a collective visit (5 or more people)", guards.collective_visit),),
               effects=(Effect("representatives := the list, sealed", effects.record_representatives),)),
    Transition("record_conduct", "Note conduct during a visit (Art 16): what happened, what staff did; sealed.",
               OPEN, None, policy.CORRECT_RECORD, required=("conduct",), optional=("note",),
               guards=(Guard("the matter is a visit", guards.a_visit),),
               effects=(Effect("a sealed, structured note (kinds, actions, description, date)",
                               effects.record_conduct),)),
    Transition("record_cessation", "Record that the petitioner stopped petitioning (息訪, Art 17): the first "
               "responder's follow-up ends. Apart from the matter's conclusion.",
               OPEN + ("concluded",), None, policy.DECIDE, optional=("on", "note"),
               guards=(Guard("not recorded before", guards.still_petitioning), _NOT_FUTURE),
               effects=(Effect("petitioning_ceased_on := on or today", effects.record_cessation),)),
)}

#: The transition names of the public API, in the order of a matter's life.
NAMES = tuple(TRANSITIONS)


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
