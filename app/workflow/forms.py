"""The forms of the workflow: one small form per transition on the record page (each with
its own prefix, so several sit on one page), and the board's filters. The rules live in
``records.cases.workflow``; these forms only carry the fields each transition declares."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField

from records.cases.workflow import FINDING_OUTCOMES, LEGAL_CHANNELS, STORED_REASONS, Transition

from ..forms import options
from ..labels import FINDING_LABELS, LEGAL_CHANNEL_LABELS, STORED_REASON_LABELS

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
    ("reply_review", "on"): _l("Date of the answer (default: today)"),
    ("reply_rereview", "on"): _l("Date of the answer (default: today)"),
    ("request_review", "on"): _l("Date of the request (default: today)"),
    ("request_rereview", "on"): _l("Date of the request (default: today)"),
    ("record_receipt", "on"): _l("Day the petitioner received the answer"),
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

    def prepare(self, spec: Transition, offices: list[tuple[str, str]], units: list[tuple[str, str]]) -> TransitionForm:
        """Set the choices and labels for ``spec``."""
        if spec.reason_codes == STORED_REASONS:
            self.reason_code.choices = options((c, STORED_REASON_LABELS[c]) for c in STORED_REASONS)
        elif spec.reason_codes == LEGAL_CHANNELS:
            self.reason_code.choices = options((c, LEGAL_CHANNEL_LABELS[c]) for c in LEGAL_CHANNELS)
        self.office.choices = options(offices)
        self.unit.choices = options(units)
        for (name, field_name), text in FIELD_LABELS.items():
            if name == spec.name:
                target = self.reason_code if field_name == "reason" and spec.reason_codes else self[field_name]
                target.label.text = text
        return self

    def visible(self, spec: Transition) -> list:
        """The form fields ``spec`` takes, in a sensible order."""
        out = []
        for name in spec.fields:
            if name == "reason":
                out.append(self.reason_code if spec.reason_codes else self.reason)
            elif name == "finding":
                out.extend([self.finding_outcome, self.corrective_action, self.evidence])
            else:
                out.append(self[name])
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
            else:
                out[name] = self[name].data or None
        return out
