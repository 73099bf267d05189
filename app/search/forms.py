"""Forms of the search pages. The rules live in ``search`` (query language, look-up
checks); these only render fields and check CSRF where something is written."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField

from records.reference.vocab import CHANNELS
from search.lookups import MAX_REASON

from ..forms import options
from ..labels import CHANNEL_LABELS

KIND_LABELS = {"id_number": _l("ID number"), "phone": _l("Phone"), "name": _l("Name")}
SORT_LABELS = {"relevance": _l("Most relevant first"), "newest": _l("Newest first"), "oldest": _l("Oldest first")}


class SearchForm(FlaskForm):
    """A GET form: reading only, so no CSRF token in the URL."""

    class Meta:
        csrf = False

    q = StringField(_l("Search"), render_kw={"maxlength": 500, "autocomplete": "off", "type": "search"})
    status = SelectField(_l("Status"), choices=[], validate_choice=False)
    channel = SelectField(_l("Channel"),
                          choices=options([("", _l("All"))] + [(c, CHANNEL_LABELS[c]) for c in CHANNELS]),
                          validate_choice=False)
    region = SelectField(_l("Region"), choices=[], validate_choice=False)
    #: the bureau's vocabulary: filled by the view (app.search.views)
    category = SelectField(_l("Category"), choices=[], validate_choice=False)
    year = StringField(_l("Year"), render_kw={"inputmode": "numeric", "maxlength": 9, "placeholder": "2026"})
    date_from = StringField(_l("From"), render_kw={"type": "date"})
    date_to = StringField(_l("To"), render_kw={"type": "date"})
    #: ``in``: where the text must be found (search.query.IN_VALUES).
    where = SelectField(_l("Found in"), name="in", validate_choice=False,
                        choices=options([("", _l("Anywhere")), ("attachments", _l("In attachments"))]))
    sort = SelectField(_l("Order"), choices=options(SORT_LABELS.items()), validate_choice=False)


class LookupForm(FlaskForm):
    kind = SelectField(_l("Look up by"), choices=options(KIND_LABELS.items()), validate_choice=False)
    value = StringField(_l("ID number, phone or name"), render_kw={"maxlength": 100, "autocomplete": "off"})
    reason = TextAreaField(_l("Reason for this look-up"), render_kw={"rows": 3, "maxlength": MAX_REASON})


class RepeatForm(FlaskForm):
    repeat_of = HiddenField()
