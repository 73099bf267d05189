"""Form pieces shared by the blueprints: checkbox lists, and the options of a choice field.

WTForms 3.3 deprecates (value, label) tuples as choices and 3.4 drops them, so every
choice list of the UI is built here, from pairs, as ``SelectChoice`` objects.
"""
from __future__ import annotations

from collections.abc import Iterable

from wtforms import SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import CheckboxInput, ListWidget


class CheckboxesField(SelectMultipleField):
    """A multiple choice shown as a list of check boxes."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class Needed:
    """Marks a field that the domain's rules require (records.cases.schemas checks it and words
    the message, the same for web, API and CLI): the input is rendered with ``required`` and
    ``aria-required`` and its label with a visible mark (app/templates/_macros.html). The form
    adds no second check of its own."""

    field_flags = {"required": True}

    def __call__(self, form, field) -> None:
        return None


def options(pairs: Iterable[tuple[str, object]]) -> list[SelectChoice]:
    """The options of a choice field from (value, label) pairs; labels may be lazy strings."""
    return [SelectChoice(value=value, label=label) for value, label in pairs]


def offered(field) -> set[str]:
    """The values a choice field offers."""
    return {choice.value for choice in field.choices or ()}
