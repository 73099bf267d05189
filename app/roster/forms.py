"""Forms of the duty roster."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Regexp

from ..forms import CheckboxesField, options

WEEKDAYS = options([("0", _l("Monday")), ("1", _l("Tuesday")), ("2", _l("Wednesday")), ("3", _l("Thursday")),
                    ("4", _l("Friday")), ("5", _l("Saturday")), ("6", _l("Sunday"))])
MONTH = Regexp(r"^\d{4}-\d{2}$", message=_l("Use a month like 2026-10."))


class RosterBuildForm(FlaskForm):
    month = StringField(_l("Month"), validators=[DataRequired(), MONTH])
    # who may be on a list is the roster's rule (records.reporting.roster), which names the
    # person refused in the page's language; WTForms' own choice check would say it in English
    leaders = CheckboxesField(_l("Leaders receiving (in turn)"), validate_choice=False)
    staff = CheckboxesField(_l("Staff on duty (in turn)"), validate_choice=False)
    weekdays = CheckboxesField(_l("Reception weekdays"), choices=WEEKDAYS, default=["0", "1", "2", "3", "4"])


class RosterAssignForm(FlaskForm):
    on = StringField(_l("Day"), validators=[DataRequired(), Regexp(r"^\d{4}-\d{2}-\d{2}$",
                                                                    message=_l("Use a date like 2026-11-25."))])
    kind = SelectField(_l("As"), choices=options([("reception", _l("Receiving leader")),
                                                      ("duty", _l("Staff on duty"))]))
    username = SelectField(_l("Person"), validate_choice=False)
