"""Forms of the retention pages (CSRF through Flask-WTF)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional


class ActionForm(FlaskForm):
    """Seal, propose, approve, run: a button with a CSRF token."""


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[DataRequired(), Length(max=500)])


class ExcludeForm(ReasonForm):
    serial = StringField(_l("Serial"), validators=[DataRequired(), Length(max=20)])


class HoldForm(ReasonForm):
    serial = StringField(_l("Serial of a letter"), validators=[Optional(), Length(max=20)])
    batch = IntegerField(_l("or batch number"), validators=[Optional()])
