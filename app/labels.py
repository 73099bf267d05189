"""Translated labels for the stored codes (channels, categories, statuses, roles)."""
from flask_babel import lazy_gettext as _l

CHANNEL_LABELS = {
    "letter": _l("Letter"), "email": _l("E-mail"), "fax": _l("Fax"), "phone": _l("Phone"),
    "visit": _l("Visit"), "online": _l("Online"),
}
CATEGORY_LABELS = {
    "labour_wages": _l("Labour and wages"), "land_housing": _l("Land and housing"),
    "social_security": _l("Social security"), "environment": _l("Environment"),
    "law_enforcement": _l("Law enforcement"), "staff_conduct": _l("Staff conduct"),
    "policy_consultation": _l("Policy consultation"), "urban_management": _l("Urban management"),
    "other": _l("Other"),
}
STATUS_LABELS = {
    "registered": _l("Registered"),
    # the life of a matter (records/workflow.py)
    "accepted": _l("Accepted"), "assigned": _l("Assigned"), "transferred": _l("Transferred"),
    "in_progress": _l("In progress"), "extended": _l("Extended"), "replied": _l("Replied"),
    "review_requested": _l("Review requested"), "review_replied": _l("Review answered"),
    "rereview_requested": _l("Re-review requested"), "rereview_replied": _l("Re-review answered"),
    "answered_directly": _l("Answered directly"), "not_accepted": _l("Not accepted"),
    "stored": _l("Stored"), "concluded": _l("Concluded"),
}
ROLE_LABELS = {
    "clerk": _l("Clerk"), "handler": _l("Handler"), "leader": _l("Leader"), "chief": _l("Chief"),
    "archivist": _l("Archivist"), "inspector": _l("Inspector"), "admin": _l("Administrator"),
}
EVENT_LABELS = {
    "registered": _l("Registered"), "corrected": _l("Corrected"),
    # workflow transitions: the event kind is the transition's name
    "accept": _l("Accepted (leader's approval)"), "assign": _l("Assigned to an office"),
    "transfer": _l("Transferred to an external unit"), "return": _l("Returned as not its remit"),
    "answer_directly": _l("Answered directly"), "decline_outside_authority": _l("Not accepted: outside our authority"),
    "decline_legal_channel": _l("Not accepted: legal channel"), "store": _l("Stored"),
    "start": _l("Investigation started"), "extend": _l("Time limit extended"), "reply": _l("Written reply issued"),
    "request_review": _l("Review requested"), "reply_review": _l("Review answered"),
    "request_rereview": _l("Re-review requested"), "reply_rereview": _l("Re-review answered"),
    "conclude": _l("Concluded"), "record_finding": _l("Finding recorded"),
    "record_receipt": _l("Receipt of the answer recorded"),
    # repeat letters (search/repeats.py)
    "marked_repeat": _l("Marked as a repeat letter"), "unmarked_repeat": _l("No longer marked as a repeat"),
}

#: Buttons and headings of the workflow's transitions.
TRANSITION_LABELS = {
    "accept": _l("Accept"), "assign": _l("Assign to an office"), "transfer": _l("Transfer to an external unit"),
    "return": _l("Return (not our remit)"), "answer_directly": _l("Answer directly"),
    "decline_outside_authority": _l("Not accept: outside our authority"),
    "decline_legal_channel": _l("Not accept: legal channel"), "store": _l("Store (存信)"),
    "start": _l("Start the investigation"), "extend": _l("Extend the time limit"),
    "reply": _l("Issue the written reply"), "request_review": _l("Register a review request"),
    "reply_review": _l("Answer the review"), "request_rereview": _l("Register a re-review request"),
    "reply_rereview": _l("Record the re-review answer"), "conclude": _l("Conclude"),
    "record_finding": _l("Record a finding"), "record_receipt": _l("Record receipt of the answer"),
}
STORED_REASON_LABELS = {
    "concluded_after_rereview": _l("Concluded after re-review"),
    "repeat_already_answered": _l("Repeat letter already answered"),
    "no_reference_value": _l("No reference value"), "unclear_content": _l("Unclear content"),
}
LEGAL_CHANNEL_LABELS = {
    "litigation": _l("Litigation"), "arbitration": _l("Arbitration"),
    "administrative_reconsideration": _l("Administrative reconsideration"),
}
FINDING_LABELS = {
    "substantiated": _l("Substantiated"), "partly_substantiated": _l("Partly substantiated"),
    "not_substantiated": _l("Not substantiated"),
}
STAGE_LABELS = {"handling": _l("Handling"), "review": _l("Review"), "rereview": _l("Re-review")}
DUE_KIND_LABELS = {
    "decision": _l("Acceptance decision"), "conclusion": _l("Conclusion"),
    "return": _l("Return window"), "review_request": _l("Review request window"),
    "review_reply": _l("Review answer"), "rereview_request": _l("Re-review request window"),
    "rereview_reply": _l("Re-review answer"),
}
#: What starts each clock (deadlines.KINDS).
DUE_START_LABELS = {
    "received": _l("received"), "accepted": _l("accepted"), "routed": _l("assigned or transferred"),
    "reply received": _l("reply received"), "review requested": _l("review requested"),
    "review answer received": _l("review answer received"), "re-review requested": _l("re-review requested"),
}
BOARD_BUCKET_LABELS = {
    "overdue": _l("Overdue"), "due_soon": _l("Due within 7 days"), "extended": _l("Extended"),
    "in_review": _l("In review"), "open": _l("All open matters"),
}


def label(table: dict, code: str | None) -> str:
    if code is None:
        return ""
    return str(table.get(code, code))


def init_labels(app) -> None:
    @app.context_processor
    def _labels():
        return {
            "CHANNEL_LABELS": CHANNEL_LABELS, "CATEGORY_LABELS": CATEGORY_LABELS,
            "STATUS_LABELS": STATUS_LABELS, "ROLE_LABELS": ROLE_LABELS, "EVENT_LABELS": EVENT_LABELS,
            "TRANSITION_LABELS": TRANSITION_LABELS, "STORED_REASON_LABELS": STORED_REASON_LABELS,
            "LEGAL_CHANNEL_LABELS": LEGAL_CHANNEL_LABELS, "FINDING_LABELS": FINDING_LABELS,
            "STAGE_LABELS": STAGE_LABELS, "DUE_KIND_LABELS": DUE_KIND_LABELS,
            "DUE_START_LABELS": DUE_START_LABELS, "BOARD_BUCKET_LABELS": BOARD_BUCKET_LABELS,
            "label": label,
        }
