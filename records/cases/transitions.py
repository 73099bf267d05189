"""The workflow as data: every transition with its states, permission, fields, guards, effects
and letter; and the printable table generated from it (``xinfang workflow table``)."""
from __future__ import annotations

from dataclasses import fields

from records import policy
from records.cases import deadlines, effects, guards
from records.cases.declarations import (LEGAL_CHANNELS, STAGE_OF_STATUS, STATES, STORED_REASONS, Effect, Guard,
                                        Transition)



TRANSITIONS: dict[str, Transition] = {t.name: t for t in (
    Transition("accept", "Accept the matter (受理), with the leader's approval (批示).",
               ("registered",), "accepted", policy.DECIDE, optional=("note",),
               effects=(Effect("decided_by, approved_by := actor; accepted_on := today; "
                               "due_on := accepted + 60 days", effects.accept),)),
    Transition("assign", "Assign (交辦) to an internal office, with the leader's approval.",
               ("accepted",), "assigned", policy.DECIDE, required=("office",), optional=("note",),
               effects=(Effect("office := the internal office; routed_on := today; approved_by := actor",
                               effects.assign),)),
    Transition("transfer", "Transfer (轉辦) to an external unit, named; the petition office supervises it.",
               ("accepted",), "transferred", policy.DECIDE, required=("unit",), optional=("note",),
               effects=(Effect("transferred_unit := the unit; office := intake; routed_on := today; "
                               "approved_by := actor", effects.transfer),)),
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
               effects=(Effect("decided_by := actor; decision_reason := outside_authority", effects.decline_authority),),
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
               optional=("note", "repeat_of"), reason_codes=STORED_REASONS,
               guards=(Guard("repeat_of, if given, is another matter; final when the reason is "
                             "concluded_after_rereview", guards.repeat_is_final, uses_input=True),),
               effects=(Effect("decided_by := actor; stored_reason := reason; repeat_of := the earlier matter",
                               effects.store),)),
    Transition("start", "Start the investigation.", ("assigned", "transferred"), "in_progress", policy.HANDLE,
               optional=("note",)),
    Transition("extend", "Extend the time limit once, at most 30 days, with a reason; the petitioner is notified.",
               ("assigned", "transferred", "in_progress"), "extended", policy.APPROVE_EXTENSION,
               required=("days", "reason"),
               guards=(Guard("not extended before; the time limit has not yet run out", guards.extension_allowed),
                       Guard("1 to 30 days", guards.extension_days, uses_input=True, field="days")),
               effects=(Effect("extended_days, extended_on, extension_approved_by := days, today, actor; "
                               "due_on += days", effects.extend),), letter="extension_notice"),
    Transition("reply", "Issue the written reply (書面答覆) with the findings.",
               ("in_progress", "extended"), "replied", policy.HANDLE, required=("text",),
               optional=("finding", "on", "received_on", "note"),
               guards=(Guard("a finding of this stage is recorded or given", guards.finding_for_stage, uses_input=True),
                       Guard("dated between acceptance and today; received between the reply and today",
                             guards.reply_dates, uses_input=True)),
               effects=(Effect("finding saved; replied_on := on or today; reply_received_on := received_on "
                               "or replied_on", effects.reply),), letter="reply"),
    Transition("request_review", "Register the petitioner's request for review (複查).",
               ("replied",), "review_requested", policy.REGISTER_REVIEW, optional=("on", "note"),
               guards=(Guard("dated within 30 days of receiving the reply", guards.request_window("review", "review request"),
                             uses_input=True),),
               effects=(Effect("review_requested_on := on or today; review_due_on := + 30 days",
                               effects.request_review),)),
    Transition("reply_review", "Issue the review's written answer (複查意見).",
               ("review_requested",), "review_replied", policy.HANDLE, required=("text",),
               optional=("finding", "on", "received_on", "note"),
               guards=(Guard("a finding of this stage is recorded or given", guards.finding_for_stage, uses_input=True),
                       Guard("dated between the request and today", guards.reply_dates, uses_input=True)),
               effects=(Effect("finding saved; review_replied_on, review_reply_received_on set", effects.reply_review),),
               letter="review_reply"),
    Transition("request_rereview", "Register the petitioner's request for re-review (複核) by the next level.",
               ("review_replied",), "rereview_requested", policy.REGISTER_REVIEW, optional=("on", "note"),
               guards=(Guard("dated within 30 days of receiving the review answer",
                             guards.request_window("rereview", "re-review request"), uses_input=True),),
               effects=(Effect("rereview_requested_on := on or today; rereview_due_on := + 30 days",
                               effects.request_rereview),)),
    Transition("reply_rereview", "Record the next level's re-review answer (複核意見): the matter becomes final.",
               ("rereview_requested",), "rereview_replied", policy.DECIDE, required=("text",),
               optional=("finding", "on", "received_on", "note"),
               guards=(Guard("a finding of this stage is recorded or given", guards.finding_for_stage, uses_input=True),
                       Guard("dated between the request and today", guards.reply_dates, uses_input=True)),
               effects=(Effect("finding saved; rereview_replied_on set (final)", effects.reply_rereview),),
               letter="rereview_reply"),
    Transition("conclude", "Conclude the matter (息訪).",
               ("answered_directly", "not_accepted", "replied", "review_replied", "rereview_replied"),
               "concluded", policy.DECIDE, optional=("reason", "note"),
               guards=(Guard("a reason when the petitioner's review window is still open", guards.conclusion_reason,
                             uses_input=True),),
               effects=(Effect("concluded_at := now", effects.conclude),)),
    Transition("record_finding", "Record what the investigation found (P1-3/4); the state does not change.",
               tuple(STAGE_OF_STATUS), None, policy.HANDLE, required=("finding",), optional=("note",),
               effects=(Effect("a finding of the current stage (sealed action and evidence)", effects.record_finding),)),
    Transition("record_receipt", "Record the day the petitioner received the written answer; the review "
               "window runs from it.", ("replied", "review_replied"), None, policy.REGISTER_REVIEW,
               required=("on",), optional=("note",),
               guards=(Guard("between the reply and today", guards.receipt_dates, uses_input=True),),
               effects=(Effect("reply_received_on (or review_reply_received_on) := on", effects.record_receipt),)),
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
