"""Letters received long ago (issue 18): a received date more than a year before today is
flagged before the letter is stored, since a letter stored with such a date joins a batch
whose retention may already have run out and could be destroyed the same day.

The rule, in one place: at registration (web form, API) the clerk confirms such a date
(``confirm_old_received_date``), or the letter is not registered; the record shows that it
was registered long after it was received; storing (存信) such a letter asks for the same
confirmation (the ``store`` step's guard, records.cases.guards). Bulk and internal callers
(imports of historic letters, the demo, tests) register without being asked.
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from records.errors import ValidationError

#: More than this many days between the received date and today (or the registration) flags it.
OLD_AFTER_DAYS = 365
FIELD = "confirm_old_received_date"
#: What the clerk is told (English msgids: the web translates them, the API shows them as they are).
messages = {
    "register": "The received date is more than a year ago. Check it; if it is right, confirm it "
                "(confirm_old_received_date: true).",
    "date": "More than a year before today: check the date.",
    "confirm": "Confirm that this letter was received more than a year ago: stored, it may be destroyed at once.",
    "store": "This letter was received more than a year ago: stored, it may be destroyed at once. "
             "Confirm the received date to store it.",
}


def long_ago(received_at: dt.datetime, today: dt.date, tz: ZoneInfo) -> bool:
    """Whether a letter received at ``received_at`` was received more than a year before ``today``."""
    return (today - received_at.astimezone(tz).date()).days > OLD_AFTER_DAYS


def registered_long_after(received_at: dt.datetime, created_at: dt.datetime | None) -> bool:
    """Whether the letter was registered more than a year after its received date (the
    record's flag: the date was confirmed at registration, or came from an import)."""
    return created_at is not None and (created_at - received_at).days > OLD_AFTER_DAYS


def confirmation(value) -> bool:
    """The API's ``confirm_old_received_date``: JSON true or false (absent: false)."""
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ValidationError(messages["register"], fields={FIELD: "Must be true or false."})
    return value


def check_registration(received_at: dt.datetime, today: dt.date, tz: ZoneInfo, confirmed: bool | None) -> None:
    """Refuse an unconfirmed received date more than a year ago. ``confirmed`` None: the caller
    does not ask (bulk and internal registration), nothing is checked."""
    if confirmed is None or confirmed or not long_ago(received_at, today, tz):
        return
    raise ValidationError(messages["register"], fields={"received_at": messages["date"], FIELD: messages["confirm"]})


def store_problem(received_at: dt.datetime, today: dt.date, tz: ZoneInfo, confirmed: bool | None) -> str | None:
    """Why storing a letter received at ``received_at`` needs the confirmation, or None."""
    if confirmed or not long_ago(received_at, today, tz):
        return None
    return messages["store"]
