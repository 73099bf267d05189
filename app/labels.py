"""Translated labels for the stored codes (channels, categories, statuses, roles)."""
import datetime as dt
from collections.abc import Mapping

from flask_babel import lazy_gettext as _l

CHANNEL_LABELS = {
    "letter": _l("Letter"), "email": _l("E-mail"), "fax": _l("Fax"), "phone": _l("Phone"),
    "visit": _l("Visit"), "online": _l("Online"),
}


class CategoryLabels(Mapping):
    """code -> the bureau's category (records.reference.categories) in the request's
    language; read from the vocabulary once per request, deactivated ones included."""

    def _table(self) -> dict[str, str]:
        from flask import g
        from flask_babel import get_locale

        from records.reference import categories

        from .web import db

        if "category_labels" not in g:
            g.category_labels = categories.labels(db(), str(get_locale() or "zh_Hant"))
        return g.category_labels

    def __getitem__(self, code: str) -> str:
        return self._table()[code]

    def __iter__(self):
        return iter(self._table())

    def __len__(self) -> int:
        return len(self._table())


CATEGORY_LABELS = CategoryLabels()
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
    "request_review": _l("Review requested from the superior body"),
    "record_review_outcome": _l("Review decision of the superior body recorded"),
    "request_rereview": _l("Re-review requested"), "record_rereview_outcome": _l("Re-review decision recorded"),
    "conclude": _l("Concluded"), "record_finding": _l("Finding recorded"),
    "acknowledge_receipt": _l("Receipt of the answer recorded"),
    "request_extension": _l("Extension asked for"), "approve_extension": _l("Extension approved"),
    "refuse_extension": _l("Extension refused"), "confirm_corrective_action": _l("Corrective action confirmed"),
    "record_handed_down": _l("Recorded as handed down (交辦件)"), "report_back": _l("Reported back (報結)"),
    "flag_major": _l("Flagged as a major case"), "record_representatives": _l("Representatives recorded"),
    "record_conduct": _l("Conduct during the visit noted"), "record_cessation": _l("Petitioning stopped (息訪)"),
    "auto_conclude": _l("Concluded: the review window closed"),
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
    "record_review_outcome": _l("Record the superior body's review decision"),
    "request_rereview": _l("Register a re-review request"),
    "record_rereview_outcome": _l("Record the re-review decision"), "conclude": _l("Conclude"),
    "record_finding": _l("Record a finding"), "acknowledge_receipt": _l("Record receipt of the answer"),
    "request_extension": _l("Ask for an extension"), "approve_extension": _l("Approve the extension"),
    "refuse_extension": _l("Refuse the extension"), "confirm_corrective_action": _l("Confirm a corrective action"),
    "record_handed_down": _l("Record as handed down (交辦件)"), "report_back": _l("Report back (報結)"),
    "flag_major": _l("Flag as a major case"), "record_representatives": _l("Record the representatives"),
    "record_conduct": _l("Note conduct during the visit"), "record_cessation": _l("Record that petitioning stopped"),
}
REVIEW_OUTCOME_LABELS = {"upheld": _l("Upheld"), "changed": _l("Changed"), "revoked": _l("Revoked")}
REMIT_LABELS = {
    "staff_or_family": _l("Staff, retirees or their families"),
    "bureau_functions": _l("About the bureau's functions"), "bureau_stability": _l("About the bureau's stability"),
}
CONDUCT_KIND_LABELS = {
    "abuse": _l("Verbal abuse"), "obstruction": _l("Obstructing work"), "threat": _l("Threats"),
    "self_harm_threat": _l("Threat of self-harm"), "property_damage": _l("Damage to property"),
    "violence": _l("Violence"), "other": _l("Other"),
}
CONDUCT_ACTION_LABELS = {
    "stopped": _l("Stopped"), "persuaded": _l("Persuaded"), "police_called": _l("Police called"),
    "medical_help": _l("Medical help called"),
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
    "rereview_reply": _l("Re-review answer"), "handed_down": _l("Deadline of the handing-down body"),
}
#: What starts each clock (deadlines.KINDS).
DUE_START_LABELS = {
    "received": _l("received"), "accepted": _l("accepted"), "routed": _l("assigned or transferred"),
    "reply received": _l("reply received"), "review requested": _l("review requested"),
    "review answer received": _l("review answer received"), "re-review requested": _l("re-review requested"),
    "handed down": _l("handed down"),
}
BOARD_BUCKET_LABELS = {
    "overdue": _l("Overdue"), "due_soon": _l("Due within 7 days"), "extended": _l("Extended"),
    "in_review": _l("In review"), "major": _l("Major cases"), "handed_down": _l("Handed down"),
    "concluding": _l("Window closed, concluding"), "open": _l("All open matters"),
}


def in_script(name: str | None, *, hans: str | None = None, hant: str | None = None) -> str:
    """A reference name (an office, a region, a category, a person) in the script of the
    request's language: Simplified on 简体中文 pages, Traditional on 繁體中文 pages, as stored
    in English. A stored explicit form for the script (``hans``, ``hant``) wins over OpenCC's
    conversion (records.reference.scripts, mainland usage), which covers names entered in
    either script."""
    if not name:
        return name or ""
    from flask_babel import get_locale

    from records.reference import scripts

    locale = str(get_locale() or "zh_Hant")
    if locale == "zh_Hans":
        return hans or scripts.to_hans(name)
    if locale == "zh_Hant":
        return hant or scripts.to_hant(name)
    return name


def ref_name(item) -> str:
    """The name of a reference row in the request's script: an office or unit, a region, a
    category, a user (its display name); a plain string is converted as it is."""
    if item is None:
        return ""
    if isinstance(item, str):
        return in_script(item)
    from records.accounts.models import User
    from records.reference.models import Category, Region

    if isinstance(item, Category):
        from flask_babel import get_locale

        from records.reference import categories

        return categories.name_of(item, str(get_locale() or "zh_Hant"))
    if isinstance(item, Region):
        return in_script(item.name, hans=item.name_hans or None, hant=item.name)
    if isinstance(item, User):
        return in_script(item.display_name)
    return in_script(item.name, hans=getattr(item, "name_hans", None) or None)


def received_long_ago(record) -> bool:
    """Whether the record's letter was received more than a year before today (office time):
    storing it asks for the date to be confirmed (records.cases.received)."""
    from records.cases import received

    from .web import instance

    tz = instance().settings.tz
    return received.long_ago(record.received_at, dt.datetime.now(tz).date(), tz)


def registered_long_after(record) -> bool:
    """The record's flag: registered more than a year after its received date."""
    from records.cases import received

    return received.registered_long_after(record.received_at, record.created_at)


def label(table: Mapping, code: str | None) -> str:
    if code is None:
        return ""
    return str(table.get(code, code))


def init_labels(app) -> None:
    # {{ record.office|ref }}, {{ user|ref }}: reference names in the page's script
    app.add_template_filter(ref_name, "ref")
    app.add_template_filter(in_script, "in_script")

    @app.context_processor
    def _labels():
        return {
            "CHANNEL_LABELS": CHANNEL_LABELS, "CATEGORY_LABELS": CATEGORY_LABELS,
            "STATUS_LABELS": STATUS_LABELS, "ROLE_LABELS": ROLE_LABELS, "EVENT_LABELS": EVENT_LABELS,
            "TRANSITION_LABELS": TRANSITION_LABELS, "STORED_REASON_LABELS": STORED_REASON_LABELS,
            "LEGAL_CHANNEL_LABELS": LEGAL_CHANNEL_LABELS, "FINDING_LABELS": FINDING_LABELS,
            "STAGE_LABELS": STAGE_LABELS, "DUE_KIND_LABELS": DUE_KIND_LABELS,
            "DUE_START_LABELS": DUE_START_LABELS, "BOARD_BUCKET_LABELS": BOARD_BUCKET_LABELS,
            "REVIEW_OUTCOME_LABELS": REVIEW_OUTCOME_LABELS, "label": label,
            "ref_name": ref_name, "in_script": in_script,
            "received_long_ago": received_long_ago, "registered_long_after": registered_long_after,
        }
