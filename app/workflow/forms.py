"""The forms of the workflow: one small form per transition on the record page (each with
its own prefix, so several sit on one page), and the board's filters. The rules live in
``records.cases.workflow``; these forms only carry the fields each transition declares."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField, TextAreaField

from records.cases.declarations import CONDUCT_ACTIONS, CONDUCT_KINDS, REMIT_GROUNDS, REVIEW_OUTCOMES
from records.cases.attachments import Upload
from records.cases.workflow import FINDING_OUTCOMES, LEGAL_CHANNELS, STORED_REASONS, Transition

from ..forms import options
from ..labels import (CONDUCT_ACTION_LABELS, CONDUCT_KIND_LABELS, FINDING_LABELS, LEGAL_CHANNEL_LABELS,
                      REMIT_LABELS, REVIEW_OUTCOME_LABELS, STORED_REASON_LABELS)

#: Labels that depend on the transition: (transition, field) -> label.
FIELD_LABELS = {
    ("return", "reason"): _l("Why it is not the remit of the office or unit"),
    ("decline_outside_authority", "reason"): _l("Explanation for the petitioner (which authority to turn to)"),
    ("decline_legal_channel", "reason"): _l("Legal channel"),
    ("store", "reason"): _l("Reason (Art 11)"),
    ("extend", "reason"): _l("Reason for the extension (told to the petitioner)"),
    ("conclude", "reason"): _l("Reason (needed while the petitioner may still ask for a review)"),
    ("answer_directly", "text"): _l("The answer"),
    ("reply", "on"): _l("Date of the reply (default: today)"),
    ("request_review", "on"): _l("Date of the request (default: today)"),
    ("request_rereview", "on"): _l("Date of the request (default: today)"),
    ("acknowledge_receipt", "on"): _l("Day the petitioner received the answer (e.g. from the postal receipt)"),
    ("request_review", "body"): _l("Superior body asked for review (default: the letterhead's superior body)"),
    ("request_rereview", "body"): _l("Body asked for re-review"),
    ("record_review_outcome", "on"): _l("Date of the superior body's decision"),
    ("record_rereview_outcome", "on"): _l("Date of the re-review decision"),
    ("request_extension", "reason"): _l("Reason for the extension (told to the petitioner)"),
    ("refuse_extension", "reason"): _l("Why the extension is refused"),
    ("record_handed_down", "body"): _l("Body that handed the matter down"),
    ("flag_major", "reason"): _l("Why it is a major case"),
    ("report_back", "text"): _l("What is reported back"),
    ("report_back", "on"): _l("Date of the report (default: today)"),
    ("record_cessation", "on"): _l("Day the petitioner stopped petitioning (default: today)"),
    ("confirm_corrective_action", "on"): _l("Day it was carried out (default: today)"),
}


class TransitionForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), render_kw={"rows": 3})
    reason_code = SelectField(_l("Reason"), choices=[], validate_choice=False)
    office = SelectField(_l("Office"), choices=[], validate_choice=False)
    unit = SelectField(_l("External unit"), choices=[], validate_choice=False)
    days = StringField(_l("Days (at most 30)"), render_kw={"type": "number", "min": "1", "max": "30",
                                                           "inputmode": "numeric"})
    text = TextAreaField(_l("Text of the written answer"), render_kw={"rows": 8})
    finding_outcome = SelectField(_l("Finding"), choices=options([("", "—")] + [(c, FINDING_LABELS[c])
                                                                                for c in FINDING_OUTCOMES]),
                                  validate_choice=False)
    corrective_action = TextAreaField(_l("Corrective action taken"), render_kw={"rows": 2})
    evidence = TextAreaField(_l("Evidence notes (internal)"), render_kw={"rows": 3})
    on = StringField(_l("Date"), render_kw={"type": "date"})
    received_on = StringField(_l("Day the petitioner received it (default: the reply's date)"),
                              render_kw={"type": "date"})
    repeat_of = StringField(_l("Serial of the earlier matter (optional)"),
                            render_kw={"placeholder": "XF-2026-000001"})
    note = TextAreaField(_l("Internal note"), render_kw={"rows": 2})
    body = StringField(_l("Body"))
    document_number = StringField(_l("Its document number (文號)"))
    outcome = SelectField(_l("Decision"), choices=options([("", "—")] + [(c, REVIEW_OUTCOME_LABELS[c])
                                                                           for c in REVIEW_OUTCOMES]),
                          validate_choice=False)
    due_on = StringField(_l("Deadline set by that body"), render_kw={"type": "date"})
    report_back = SelectField(_l("Report-back (報結) required"), choices=options([("yes", _l("Yes")), ("no", _l("No"))]),
                              validate_choice=False)
    finding_id = StringField(_l("Number of the finding"), render_kw={"inputmode": "numeric"})
    remit = SelectField(_l("Within our remit because (Art 4)"),
                        choices=options([("", "—")] + [(c, REMIT_LABELS[c]) for c in REMIT_GROUNDS]),
                        validate_choice=False)
    review_of_unit = SelectField(_l("Review of a decision of this subordinate unit (optional)"), choices=[],
                                 validate_choice=False)
    representatives = TextAreaField(_l("Representatives, one per line: name, ID number, phone (at most 5)"),
                                    render_kw={"rows": 5})
    conduct_kinds = SelectMultipleField(_l("What happened"), choices=options(
        (c, CONDUCT_KIND_LABELS[c]) for c in CONDUCT_KINDS), validate_choice=False)
    conduct_actions = SelectMultipleField(_l("What staff did"), choices=options(
        (c, CONDUCT_ACTION_LABELS[c]) for c in CONDUCT_ACTIONS), validate_choice=False)
    conduct_description = TextAreaField(_l("Description"), render_kw={"rows": 3})
    conduct_on = StringField(_l("Day of the visit"), render_kw={"type": "date"})
    #: storing a letter received more than a year ago (records.cases.received)
    confirm_old_received_date = BooleanField(_l("I have checked it: this letter was received more than a year ago."))
    document = FileField(_l("The decision document (PDF or scan)"),
                         render_kw={"accept": "application/pdf,image/jpeg,image/png,image/tiff,image/gif"})

    def prepare(self, spec: Transition, offices: list[tuple[str, str]], units: list[tuple[str, str]]) -> TransitionForm:
        """Set the choices and labels for ``spec``."""
        if spec.reason_codes == STORED_REASONS:
            # no reason preselected: storing a letter is a decision to make, not a default
            self.reason_code.choices = options([("", "—")] + [(c, STORED_REASON_LABELS[c]) for c in STORED_REASONS])
        elif spec.reason_codes == LEGAL_CHANNELS:
            self.reason_code.choices = options((c, LEGAL_CHANNEL_LABELS[c]) for c in LEGAL_CHANNELS)
        self.office.choices = options(offices)
        self.unit.choices = options(units)
        self.review_of_unit.choices = options([("", "—")] + list(units))
        for (name, field_name), text in FIELD_LABELS.items():
            if name == spec.name:
                target = self.reason_code if field_name == "reason" and spec.reason_codes else self[field_name]
                target.label.text = text
        # what the step requires is marked in the page (required, aria-required, the label's
        # mark); the workflow still checks it (records.cases.inputs)
        for name in spec.required:
            target = {"reason": self.reason_code if spec.reason_codes else self.reason,
                      "finding": self.finding_outcome, "conduct": self.conduct_kinds}.get(name)
            if target is None and name in self._fields:
                target = self[name]
            if target is not None:
                target.flags.required = True
        return self

    def visible(self, spec: Transition) -> list:
        """The form fields ``spec`` takes, in a sensible order."""
        out = []
        for name in spec.fields:
            if name == "reason":
                out.append(self.reason_code if spec.reason_codes else self.reason)
            elif name == "finding":
                out.extend([self.finding_outcome, self.corrective_action, self.evidence])
            elif name == "conduct":
                out.extend([self.conduct_kinds, self.conduct_actions, self.conduct_description, self.conduct_on])
            else:
                out.append(self[name])
        return out

    def labels(self, spec: Transition) -> dict[str, str]:
        """The label of each field key the workflow may name in a ValidationError, as this
        form shows it (``reason`` is the reason box or the reason choice)."""
        out = {field.short_name: str(field.label.text) for field in self}
        out["reason"] = str((self.reason_code if spec.reason_codes else self.reason).label.text)
        out.update({"finding": str(self.finding_outcome.label.text),
                    "finding.outcome": str(self.finding_outcome.label.text),
                    "finding.corrective_action": str(self.corrective_action.label.text),
                    "conduct": str(self.conduct_kinds.label.text),
                    "conduct.kinds": str(self.conduct_kinds.label.text),
                    "conduct.actions": str(self.conduct_actions.label.text),
                    "conduct.occurred_on": str(self.conduct_on.label.text)})
        return out

    def params(self, spec: Transition) -> dict:
        """The keyword arguments of ``records.cases.workflow.transition`` from what was posted."""
        out = {}
        for name in spec.fields:
            if name == "reason":
                out["reason"] = (self.reason_code.data if spec.reason_codes else self.reason.data) or None
            elif name == "finding":
                finding = {"outcome": self.finding_outcome.data or None,
                           "corrective_action": self.corrective_action.data or "",
                           "evidence": self.evidence.data or ""}
                if finding["outcome"] or finding["corrective_action"] or finding["evidence"]:
                    out["finding"] = finding
            elif name == "representatives":
                out[name] = _people(self.representatives.data or "")
            elif name == "conduct":
                out[name] = {"kinds": self.conduct_kinds.data or [], "actions": self.conduct_actions.data or [],
                             "description": self.conduct_description.data or "",
                             "occurred_on": self.conduct_on.data or None}
            elif name == "document":
                upload = self.document.data
                if upload is not None and getattr(upload, "filename", ""):
                    out[name] = Upload(filename=upload.filename, data=upload.read())
            else:
                out[name] = self[name].data or None
        return out


def _people(text: str) -> list[dict]:
    """Representatives typed one per line as "name, ID number, phone" (commas of either width)."""
    people = []
    for line in text.splitlines():
        parts = [p.strip() for p in line.replace("，", ",").split(",")]
        if parts and parts[0]:
            people.append(dict(zip(("name", "id_number", "phone"), parts + ["", ""], strict=False)))
    return people
