"""Account forms for administrators. The rules are in ``records.accounts.operations``."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField

from records.reference.vocab import ROLES

from ..forms import CheckboxesField, options
from ..labels import ROLE_LABELS


class AccountForm(FlaskForm):
    username = StringField(_l("User name"))
    display_name = StringField(_l("Display name"))
    roles = CheckboxesField(_l("Roles"), choices=options((r, ROLE_LABELS[r]) for r in ROLES), validate_choice=False)
    office = SelectField(_l("Office"), choices=[], validate_choice=False)
    oversees = CheckboxesField(_l("Offices overseen (leaders and the chief)"), choices=[], validate_choice=False)


class ConfirmForm(FlaskForm):
    """A bare form: the CSRF token for one-button actions."""
