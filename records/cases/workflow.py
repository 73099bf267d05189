"""The life of a matter, declared as data (in the spirit of Plone's DCWorkflow): the engine.

The declarations live beside it: :mod:`records.cases.declarations` (states, vocabularies, the
shape of a transition), :mod:`records.cases.transitions` (:data:`TRANSITIONS`, the whole
workflow: for each transition the states it leaves from, the state it goes to, the permission
it needs (``records.policy``), the fields it requires or accepts, its guards
(:mod:`records.cases.guards`), its effects (:mod:`records.cases.effects`) and the letter it
issues; printed by ``xinfang workflow table`` or :func:`format_table`) and
:mod:`records.cases.inputs` (cleaning a transition's input). All their public names are
re-exported here.

:func:`transition` applies one, in this order: check the permission (AccessDenied, or
NotFound when the record is not even visible), check the state (Conflict, 409), check the
input (ValidationError, 422), check the guards (Conflict), apply the effects, then record
an event (who, when, from/to, a sealed note), the letter (an encrypted PDF attachment), an
audit entry and an outbox entry for the search index. :func:`available` lists what a user
may apply now. Services flush; the unit of work commits.

Some steps keep the matter in its state (they have no target), e.g. ``record_finding`` (what
the investigation found, P1-3/4), ``acknowledge_receipt`` (the day the petitioner received a
written answer, from which the review window runs), the extension asked for and decided,
a matter handed down and its report-back, a major case, 息訪. Reviews (複查) and re-reviews
(複核) are the superior bodies' decisions, recorded here; a matter left "replied" after the
window concludes by the daily sweep (:mod:`records.cases.sweep`).

After the next level has answered a re-review (複核) the matter is final (Art 11): a new
letter from the same petitioner on it is stored with the reason ``concluded_after_rereview``
(see :func:`final_matters_for`).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from records import audit, policy, sealing
from records.accounts.models import User
from records.cases import deadlines
from records.cases.deadlines import Calendar
from records.cases.declarations import (FINDING_OUTCOMES, LEGAL_CHANNELS, STAGE_OF_STATUS, STATES,  # noqa: F401
                                        STORED_REASONS, TERMINAL, Context, Effect, Guard, Params, State,
                                        Transition, is_final)
from records.cases.inputs import FIELDS, parse  # noqa: F401
from records.cases.transitions import NAMES, TRANSITIONS, format_table, table  # noqa: F401
from records.db import utcnow
from records.errors import Codes, Conflict, Msg, ValidationError
from records.instance import instance_of
from records.models import IdentityToken, OutboxEntry, Record, RecordEvent


# -- applying -------------------------------------------------------------------------------------


@dataclass
class Applied:
    """What a transition did."""

    record: Record
    event: RecordEvent
    #: The (first) letter issued (an encrypted attachment), if the transition issues one.
    document: object | None = None
    #: Every letter issued (a transfer writes to the unit and to the petitioner).
    documents: list = field(default_factory=list)


def _now_for(cal: Calendar, today: dt.date | None) -> tuple[dt.date, dt.datetime]:
    if today is None:
        now = utcnow()
        return cal.local_date(now), now
    return today, dt.datetime.combine(today, dt.time(12, 0), tzinfo=cal.tz).astimezone(dt.UTC)


def _message(problem: str | None) -> Msg | None:
    """A guard's refusal as a catalogued message (its literal returns are collected as msgids)."""
    return Msg(problem) if problem and not isinstance(problem, Msg) else problem


def _state_refusal(spec: Transition, record: Record, c: Context) -> str:
    """Why ``spec`` cannot leave the record's state, with the most specific reason there is."""
    if record.status in TERMINAL:
        return Msg("The matter is %(status)s; nothing more can be done with it.", status=Codes((record.status,)))
    possible = [t.name for t in TRANSITIONS.values() if record.status in t.sources]
    message = Msg("'%(step)s' is not possible while the matter is %(status)s (it needs %(needs)s). "
                  "From %(status)s: %(possible)s.", step=Codes((spec.name,)), status=Codes((record.status,)),
                  needs=Codes(spec.sources), possible=Codes(possible) if possible else Msg("nothing"))
    for guard in spec.guards:
        if not guard.uses_input:
            problem = _message(guard.check(c))
            if problem:
                message = Msg("%(message)s %(problem)s", message=message, problem=problem)
    return message


def transition(session: Session, record: Record, name: str, *, by: User, today: dt.date | None = None,
               address: str = "", **given) -> Applied:
    """Apply transition ``name`` to ``record`` as ``by``; see the module's docstring for the order of checks.

    ``given`` are the transition's fields (:data:`FIELDS`: reason, office, unit, days, text, note,
    on, received_on, finding, repeat_of, body, document_number, outcome, due_on, …); each
    transition declares which it requires or accepts. ``today`` fixes the office's date of the
    step (the default is the real date; tests and imports of old matters pass it)."""
    spec = TRANSITIONS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise ValidationError("Unknown transition.", fields={"transition": Msg("Must be one of: %(codes)s.", codes=Codes(NAMES))})
    policy.require(by, spec.permission, record)
    # two people acting at once: lock the row (PostgreSQL; SQLite's writers queue already),
    # then read it again, so the second sees what the first did
    session.flush()
    session.execute(select(Record.id).where(Record.id == record.id).with_for_update())
    session.refresh(record)
    cal = deadlines.calendar_for(session)
    day, now = _now_for(cal, today)
    if record.status not in spec.sources:
        raise Conflict(_state_refusal(spec, record, Context(session, record, by, cal, day, now, Params())))
    c = Context(session, record, by, cal, day, now, parse(session, spec, given))
    _check_guards(spec, c)
    old = record.status
    for effect in spec.effects:
        effect.apply(c)
    if spec.target is not None:
        record.status = spec.target
    record.updated_at = utcnow()
    event = _event(c, spec, old)
    documents = _issue_letters(c)
    session.add(OutboxEntry(record_uid=record.uid, op="index"))
    session.flush()
    if record.status == "stored":  # the instance's on_stored hooks (retention: batch, re-key), in this transaction
        instance_of(session).stored(session, record)
    detail = {"transition": spec.name, "from": old, "to": record.status, "on": day.isoformat(), **c.detail}
    if spec.reason_codes and c.params.reason:
        detail["reason"] = c.params.reason
    audit.record(session, "record.transition", actor=by, target=record.serial, address=address, detail=detail)
    return Applied(record=record, event=event, document=documents[0] if documents else None, documents=documents)


def _check_guards(spec: Transition, c: Context) -> None:
    """The guards that do not look at the input first (a conflict), then those that do."""
    for guard in spec.guards:
        if not guard.uses_input:
            problem = _message(guard.check(c))
            if problem:
                raise Conflict(problem)
    for guard in spec.guards:
        if guard.uses_input:
            problem = _message(guard.check(c))
            if problem:
                if guard.field:
                    raise ValidationError(problem, fields={guard.field: problem})
                raise Conflict(problem)


def _event(c: Context, spec: Transition, old: str) -> RecordEvent:
    """The step's event, with its free text (reason, text, note, structured additions) sealed."""
    event = RecordEvent(record=c.record, actor_id=c.by.id if c.by else None, kind=spec.name, from_status=old,
                        to_status=c.record.status)
    c.session.add(event)
    c.session.flush()
    p = c.params
    note_text = "\n\n".join(t for t in ((p.reason if not spec.reason_codes else None), p.text, p.note,
                                         c.sealed_extra) if t)
    if note_text:
        event.note_sealed = sealing.seal_json(c.session, c.record, "event-note", note_text, event.id)
    return event


def _issue_letters(c: Context) -> list:
    """Render, number and store (encrypted) every letter the effects prepared."""
    if not c.letters:
        return []
    from records.cases import notices  # noqa: PLC0415 - notices import the operations that import us

    documents = [notices.issue(c.session, c.record, kind, context, by=c.by) for kind, context in c.letters]
    c.detail["document"] = documents[0].uid
    c.detail["letters"] = [{"kind": kind, "number": context.get("number"), "document": d.uid}
                           for (kind, context), d in zip(c.letters, documents, strict=True)]
    return documents


def available(session: Session, record: Record, user: User, *, today: dt.date | None = None) -> list[str]:
    """The transitions ``user`` may apply to ``record`` now (state, permission and the guards
    that do not depend on input)."""
    if user is None:
        return []
    cal = deadlines.calendar_for(session)
    day, now = _now_for(cal, today)
    c = Context(session, record, user, cal, day, now, Params())
    names = []
    for spec in TRANSITIONS.values():
        if record.status not in spec.sources or not policy.can(user, spec.permission, record):
            continue
        if any(g.check(c) for g in spec.guards if not g.uses_input):
            continue
        names.append(spec.name)
    return names


# -- reading --------------------------------------------------------------------------------------------


def final_matters_for(session: Session, tokens: Iterable[tuple[str, bytes]], *,
                      kinds: tuple[str, ...] = ("id_number", "phone")) -> list[Record]:
    """Final matters (see :func:`is_final`) of the petitioner whose identity tokens are ``tokens``
    (``identity.tokens_for``), newest first. Only strong identifiers count by default: a name
    alone is shared by many people.

    For the registration flow: when this returns matters for the new letter's petitioner on
    the same issue, offer the clerk to store the letter with the reason
    ``concluded_after_rereview`` and ``repeat_of`` = one of these serials. No access check
    and no decryption here: the caller shows at most the serials the user may see."""
    pairs = [(k, t) for k, t in tokens if k in kinds]
    if not pairs:
        return []
    ids = select(IdentityToken.record_id).where(tuple_(IdentityToken.kind, IdentityToken.token).in_(pairs))
    return list(session.execute(
        select(Record).where(Record.id.in_(ids), Record.rereview_replied_on.is_not(None))
        .order_by(Record.received_at.desc())).scalars())


def final_matters_for_petitioner(session: Session, petitioner: dict) -> list[Record]:
    """:func:`final_matters_for` from a petitioner block as registered (name, id_number, phone)."""
    from records import identity
    from records.instance import instance_of

    key = instance_of(session).purpose_key("identity")
    return final_matters_for(session, identity.tokens_for(key, petitioner))


@dataclass
class FindingView:
    stage: str
    outcome: str
    at: dt.datetime
    by: str
    corrective_action: str | None = None
    evidence: str | None = None
    #: The finding's number (``confirm_corrective_action`` names it), the action's due date and confirmation.
    id: int | None = None
    action_due_on: dt.date | None = None
    action_confirmed_on: dt.date | None = None


@dataclass
class Summary:
    """What the record page and the API show of a matter's life, for one viewer."""

    status: str
    terminal: bool
    final: bool
    dues: list[deadlines.Due]
    current: deadlines.Due | None
    #: The viewer may read the sealed reasons and findings.
    with_content: bool
    transitions: list[str]
    findings: list[FindingView]
    today: dt.date


def extension_reason(session: Session, record: Record) -> str | None:
    """The sealed reason of the extension (content: only for those who may read it)."""
    kinds = ("extend", "request_extension") if record.extended_days else ("extend",)
    event = next((e for e in reversed(record.events) if e.kind in kinds), None)
    if event is None or event.note_sealed is None:
        return None
    return sealing.open_json(session, record, "event-note", event.note_sealed, event.id)


def summary(session: Session, record: Record, user: User, *, today: dt.date | None = None) -> Summary:
    """The due dates (with reasons only for content readers), findings and available steps.

    Call it after ``operations.view``, whose audit entry covers reading the sealed parts."""
    cal = deadlines.calendar_for(session)
    day, _ = _now_for(cal, today)
    with_content = policy.can(user, policy.VIEW_CONTENT, record)
    reason = extension_reason(session, record) if with_content and record.extended_days else None
    dues = deadlines.dues(cal, record, extension_reason=reason)
    kind = deadlines.CLOCK_OF_STATUS.get(record.status)
    current = next((d for d in dues if d.kind == kind), None)
    findings = []
    # outcomes go with the content: not for the archivist or the inspector (policy.VIEW_FINDINGS)
    for f in record.findings if policy.can(user, policy.VIEW_FINDINGS, record) else ():
        view = FindingView(stage=f.stage, outcome=f.outcome, at=f.created_at,
                           by=f.created_by.display_name if f.created_by else "", id=f.id,
                           action_due_on=f.action_due_on, action_confirmed_on=f.action_confirmed_on)
        if with_content:
            view.corrective_action = sealing.open_json(session, record, "finding-action", f.corrective_action_sealed,
                                                       f.id) if f.corrective_action_sealed else ""
            view.evidence = sealing.open_json(session, record, "finding-evidence", f.evidence_sealed, f.id) \
                if f.evidence_sealed else ""
        findings.append(view)
    return Summary(status=record.status, terminal=record.status in TERMINAL, final=is_final(record), dues=dues,
                   current=current, with_content=with_content, transitions=available(session, record, user, today=day),
                   findings=findings, today=day)
