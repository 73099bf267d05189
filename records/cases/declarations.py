"""The workflow's vocabulary: states, the shape of a transition (guards, effects) and the context
they see. The table itself is in :mod:`records.cases.transitions`, the engine in
:mod:`records.cases.workflow`."""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from records.accounts.models import User
from records.cases.deadlines import Calendar
from records.models import Record
from records.reference.models import Office

# -- vocabularies -------------------------------------------------------------------------

#: Art 11: why a letter is stored (存信) rather than handled.
STORED_REASONS = ("concluded_after_rereview", "repeat_already_answered", "no_reference_value", "unclear_content")
#: Art 10: the legal channel a not-accepted matter belongs to.
LEGAL_CHANNELS = ("litigation", "arbitration", "administrative_reconsideration")
#: P1-3/4: what the investigation found.
FINDING_OUTCOMES = ("substantiated", "partly_substantiated", "not_substantiated")
#: Finding stage by the state the matter is in when the finding is recorded.
STAGE_OF_STATUS = {
    "assigned": "handling", "transferred": "handling", "in_progress": "handling", "extended": "handling",
    "review_requested": "review", "rereview_requested": "rereview",
}

#: Art 9: what the superior body decided on review (複查) or re-review (複核).
REVIEW_OUTCOMES = ("upheld", "changed", "revoked")
#: Art 4: on what ground the petitioner is within the bureau's remit (recorded at acceptance).
REMIT_GROUNDS = ("staff_or_family", "bureau_functions", "bureau_stability")
#: Art 16: what happened during a visit, and what the staff did.
CONDUCT_KINDS = ("abuse", "obstruction", "threat", "self_harm_threat", "property_damage", "violence", "other")
CONDUCT_ACTIONS = ("stopped", "persuaded", "police_called", "medical_help")
#: A collective visit (5 or more people) chooses at most this many representatives.
MAX_REPRESENTATIVES = 5
COLLECTIVE_VISIT = 5

MAX_REASON = 2000
MAX_NOTE = 5000
MAX_TEXT = 20000


@dataclass(frozen=True)
class State:
    name: str
    description: str
    terminal: bool = False


STATES: dict[str, State] = {s.name: s for s in (
    State("registered", "Registered; awaiting the acceptance decision (15 days)."),
    State("accepted", "Accepted with a leader's approval; to be assigned or transferred."),
    State("assigned", "Assigned (交辦) to an internal office."),
    State("transferred", "Transferred (轉辦) to an external unit, which is named."),
    State("in_progress", "Being investigated by the office or unit."),
    State("extended", "Time limit extended once (at most 30 days), petitioner notified."),
    State("replied", "Written reply issued; the petitioner may ask for a review within 30 days of receipt."),
    State("review_requested", "Review (複查) requested; the reviewing office answers within 30 days."),
    State("review_replied", "Review answered; the petitioner may ask for a re-review within 30 days."),
    State("rereview_requested", "Re-review (複核) requested from the next level; answered within 30 days."),
    State("rereview_replied", "Re-review answered: the matter is final (Art 11)."),
    State("answered_directly", "Answered directly (consultation, Art 7)."),
    State("not_accepted", "Not accepted: outside our authority, or belongs to a legal channel (notice issued)."),
    State("stored", "Stored (存信) with an Art 11 reason; packed by region and year for destruction.", True),
    State("concluded", "Concluded (息訪).", True),
)}
TERMINAL = frozenset(s.name for s in STATES.values() if s.terminal)


# -- declarations ------------------------------------------------------------------------------


@dataclass
class Params:
    """A transition's input, cleaned (``None`` when not given)."""

    reason: str | None = None
    note: str | None = None
    text: str | None = None
    office: Office | None = None
    unit: Office | None = None
    days: int | None = None
    on: dt.date | None = None
    received_on: dt.date | None = None
    finding: dict | None = None
    repeat_of: Record | None = None
    #: The superior body asked for review, or the higher body that handed the matter down.
    body: str | None = None
    #: An outside document's number (文號): the superior body's decision, the handing-down letter.
    document_number: str | None = None
    outcome: str | None = None
    due_on: dt.date | None = None
    report_back: bool | None = None
    finding_id: int | None = None
    remit: str | None = None
    review_of_unit: Office | None = None
    representatives: list[dict] | None = None
    conduct: dict | None = None
    #: An outside body's decision document as uploaded: (``attachments.Upload``, sniffed type).
    document: tuple | None = None
    #: Storing a letter received more than a year ago: the received date is confirmed (records.cases.received).
    confirm_old_received_date: bool | None = None


@dataclass
class Context:
    """Everything a guard or an effect sees."""

    session: Session
    record: Record
    by: User
    cal: Calendar
    today: dt.date
    now: dt.datetime
    params: Params
    #: Clear details for the audit entry (codes, ids, dates; never text).
    detail: dict = field(default_factory=dict)
    #: The letters to issue: (template, context), added by the effects.
    letters: list[tuple[str, dict]] = field(default_factory=list)
    #: Structured content the step adds to its sealed note (e.g. a conduct note), as JSON text.
    sealed_extra: str | None = None


@dataclass(frozen=True)
class Guard:
    description: str
    check: Callable[[Context], str | None]
    #: Depends on the input, so :func:`available` cannot evaluate it in advance.
    uses_input: bool = False
    #: When set, a refusal is bad input in this field (422) rather than a conflict (409).
    field: str | None = None


@dataclass(frozen=True)
class Effect:
    description: str
    apply: Callable[[Context], None]


@dataclass(frozen=True)
class Transition:
    name: str
    description: str
    sources: tuple[str, ...]
    #: None: the matter stays in its state (a recorded step, not a move).
    target: str | None
    permission: str
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()
    guards: tuple[Guard, ...] = ()
    effects: tuple[Effect, ...] = ()
    #: The letter template(s) (records/cases/notices.py) the transition issues, if any: one name, or
    #: several joined by "+" (a transfer writes to the unit and to the petitioner).
    letter: str | None = None
    #: When ``reason`` is a code rather than free text: the codes allowed.
    reason_codes: tuple[str, ...] = ()

    @property
    def fields(self) -> tuple[str, ...]:
        return self.required + self.optional


def is_final(record: Record) -> bool:
    """Concluded after re-review (複核終結): the next level has answered."""
    return record.rereview_replied_on is not None
