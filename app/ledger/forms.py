"""The registration form. WTForms renders it and checks CSRF; the rules themselves live in
``records.cases.schemas`` so the web, the API and the CLI accept exactly the same input."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, MultipleFileField, SelectField, StringField, TextAreaField

from records.reference.vocab import CHANNELS

from ..forms import Needed, options
from ..labels import CHANNEL_LABELS


class RecordForm(FlaskForm):
    channel = SelectField(_l("Channel"), choices=options((c, CHANNEL_LABELS[c]) for c in CHANNELS),
                          validate_choice=False, validators=[Needed()])
    received_at = StringField(_l("Received at"), render_kw={"type": "datetime-local"}, validators=[Needed()])
    #: A region code typed or picked from the jurisdiction's list (a datalist; any code of the
    #: national list is accepted, see /reference/regions to find one by name).
    region = StringField(_l("Region code"), render_kw={"list": "region-options", "inputmode": "numeric",
                                                       "maxlength": 6, "autocomplete": "off"},
                         validators=[Needed()])
    #: the bureau's vocabulary: filled by the view
    category = SelectField(_l("Category"), choices=[], validate_choice=False, validators=[Needed()])
    people_count = StringField(_l("Number of people"), default="1",
                               render_kw={"inputmode": "numeric", "type": "number", "min": "1"})
    subject = StringField(_l("Subject"), validators=[Needed()])
    body = TextAreaField(_l("Content"), render_kw={"rows": 10}, validators=[Needed()])
    notes = TextAreaField(_l("Registration notes"), render_kw={"rows": 3})
    petitioner_name = StringField(_l("Petitioner's name"))
    petitioner_id_number = StringField(_l("ID number"))
    petitioner_phone = StringField(_l("Phone"))
    petitioner_address = StringField(_l("Address"))
    first_responder = SelectField(_l("First responder"), choices=[], validate_choice=False)
    #: 被反映人: user names of staff the letter complains about; they will never see it.
    accused = StringField(_l("Staff complained about (user names)"), render_kw={"autocomplete": "off"})
    #: The office or unit the letter complains about (statistics: units complained about most).
    complained_unit = SelectField(_l("Office or unit complained about"), choices=[], validate_choice=False)
    attachments = MultipleFileField(_l("Scanned letter or other attachments"))
    #: A scan recognised on the form before registering (records.intake.drafts; app/static/scan_draft.js):
    #: the draft's id, and "yes" when the clerk took its text as the body.
    scan_draft = HiddenField()
    scan_text_taken = HiddenField()
    #: Shown when the received date is more than a year ago (records.cases.received).
    confirm_old_received_date = BooleanField(_l("I have checked it: this letter was received more than a year ago."))

    def to_raw(self) -> dict:
        return {
            "channel": self.channel.data, "received_at": self.received_at.data,
            "region": self.region.data, "category": self.category.data,
            "people_count": self.people_count.data, "subject": self.subject.data,
            "body": self.body.data, "notes": self.notes.data,
            "first_responder": self.first_responder.data or None,
            "accused": self.accused.data or None,
            "complained_unit": self.complained_unit.data or None,
            "petitioner": {
                "name": self.petitioner_name.data, "id_number": self.petitioner_id_number.data,
                "phone": self.petitioner_phone.data, "address": self.petitioner_address.data,
            },
        }

    def set_errors(self, fields: dict) -> None:
        for key, message in fields.items():
            name = key.replace("petitioner.", "petitioner_")
            field = getattr(self, name, None)
            if field is not None and hasattr(field, "errors"):
                field.errors = list(field.errors or []) + [message]
