"""Forms of the intake pages (rules live in ``records.intake``)."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import SelectField, StringField, TextAreaField

from records.cases.schemas import MAX_BODY


class MailUploadForm(FlaskForm):
    message = FileField(_l("E-mail file (.eml) or mailbox (mbox)"))
    region = SelectField(_l("Region"), choices=[], validate_choice=False)
    category = SelectField(_l("Category"), choices=[], validate_choice=False)


class AcceptTextForm(FlaskForm):
    body = TextAreaField(_l("Recognised text, as corrected"), render_kw={"rows": 18, "maxlength": MAX_BODY})


class SearchWithinForm(FlaskForm):
    class Meta:
        csrf = False

    q = StringField(_l("Highlight"), render_kw={"maxlength": 200, "type": "search"})
