"""A transition's input, cleaned: required fields present, unused ones refused, each named."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from records.cases.declarations import (CONDUCT_ACTIONS, CONDUCT_KINDS, FINDING_OUTCOMES, MAX_NOTE, MAX_REASON,
                                        MAX_REPRESENTATIVES, MAX_TEXT, REMIT_GROUNDS, REVIEW_OUTCOMES, Params,
                                        Transition)
from records.cases.attachments import clean_document
from records.cases.schemas import clean_text
from records.errors import Codes, Msg, Quoted, ValidationError
from records.models import Record
from records.reference.models import Office



def _parse_date(value, name: str, errors: dict) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    errors[name] = "Use a date like 2026-11-25."
    return None


def _office(session: Session, code, name: str, errors: dict, *, external: bool) -> Office | None:
    if not isinstance(code, str) or not code.strip():
        errors[name] = "Choose an external unit." if external else "Choose an office."
        return None
    office = session.execute(select(Office).where(Office.code == code.strip())).scalar_one_or_none()
    if office is None:
        errors[name] = Msg("No office or unit with code %(code)s.", code=Quoted(code.strip()[:32]))
    elif not office.active:
        errors[name] = "That office or unit is no longer in use (deactivated): choose another."
    elif external and not office.is_external:
        errors[name] = "A transfer goes to an external unit (a county or district department); use 'assign' " \
                       "for an internal office."
    elif not external and (office.is_external or office.is_intake):
        errors[name] = "Assign to one of our internal offices (not the intake, not an external unit; " \
                       "use 'transfer' for those)."
    else:
        return office
    return None


def _finding(raw, errors: dict) -> dict | None:
    if raw is None or raw == {}:
        return None
    if not isinstance(raw, dict):
        errors["finding"] = "Must be an object with outcome, corrective_action, action_due_on, evidence."
        return None
    unknown = set(raw) - {"outcome", "corrective_action", "action_due_on", "evidence"}
    if unknown:
        errors["finding"] = Msg("Unknown field(s): %(names)s.", names=", ".join(sorted(str(k) for k in unknown)[:5]))
        return None
    outcome = raw.get("outcome")
    if outcome not in FINDING_OUTCOMES:
        errors["finding.outcome"] = Msg("Must be one of: %(codes)s.", codes=Codes(FINDING_OUTCOMES))
    action = clean_text(raw.get("corrective_action"), "finding.corrective_action", errors, required=False,
                        max_len=MAX_NOTE, multiline=True)
    evidence = clean_text(raw.get("evidence"), "finding.evidence", errors, required=False, max_len=MAX_TEXT,
                          multiline=True)
    due = _parse_date(raw.get("action_due_on"), "finding.action_due_on", errors)
    if due is not None and not action:
        errors["finding.action_due_on"] = "A due date needs the corrective action it is for."
    return {"outcome": outcome, "corrective_action": action, "evidence": evidence, "action_due_on": due}


def _codes(value, name: str, codes: tuple[str, ...], errors: dict) -> str | None:
    if value not in codes:
        errors[name] = Msg("Must be one of: %(codes)s.", codes=Codes(codes))
        return None
    return value


def _whole(value, name: str, errors: dict, days: bool = True) -> int | None:
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        errors[name] = "Must be a whole number of days." if days else "Must be the number of a finding."
        return None
    return value


def _flag(value, name: str, errors: dict) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("yes", "true", "1", "no", "false", "0"):
        return value.strip().lower() in ("yes", "true", "1")
    errors[name] = "Must be yes or no."
    return None


def _short(value, name: str, errors: dict, max_len: int) -> str | None:
    return clean_text(value, name, errors, required=True, max_len=max_len) or None


def _serial(session: Session, value, errors: dict) -> Record | None:
    other = session.execute(select(Record).where(Record.serial == value)).scalar_one_or_none() \
        if isinstance(value, str) else None
    if other is None:
        errors["repeat_of"] = "No record with that serial."
    return other


def _people(raw, errors: dict) -> list[dict] | None:
    """A collective visit's representatives: name required, ID number and phone optional."""
    if not isinstance(raw, list) or not raw:
        errors["representatives"] = "Must be a list of people (name, id_number, phone)."
        return None
    if len(raw) > MAX_REPRESENTATIVES:
        errors["representatives"] = Msg("At most %(n)s representatives.", n=MAX_REPRESENTATIVES)
        return None
    out = []
    for i, person in enumerate(raw):
        if not isinstance(person, dict) or set(person) - {"name", "id_number", "phone"}:
            errors[f"representatives.{i}"] = "Must be an object with name, id_number, phone."
            continue
        out.append({k: clean_text(person.get(k), f"representatives.{i}.{k}", errors, required=k == "name",
                                  max_len=64) for k in ("name", "id_number", "phone")})
    return out


def _conduct(raw, errors: dict) -> dict | None:
    """Art 16: what happened during a visit (kinds), what staff did (actions), a description."""
    if not isinstance(raw, dict) or set(raw) - {"kinds", "actions", "description", "occurred_on"}:
        errors["conduct"] = "Must be an object with kinds, actions, description, occurred_on."
        return None
    out: dict = {}
    for key, codes in (("kinds", CONDUCT_KINDS), ("actions", CONDUCT_ACTIONS)):
        values = raw.get(key) or []
        values = [values] if isinstance(values, str) else values
        if not isinstance(values, list) or not values or any(v not in codes for v in values):
            errors[f"conduct.{key}"] = Msg("Choose one or more of: %(codes)s.", codes=Codes(codes))
        else:
            out[key] = sorted(set(values), key=codes.index)
    out["description"] = clean_text(raw.get("description"), "conduct.description", errors, required=True,
                                    max_len=MAX_NOTE, multiline=True)
    occurred = _parse_date(raw.get("occurred_on"), "conduct.occurred_on", errors)
    out["occurred_on"] = occurred.isoformat() if occurred else None
    return out


def _reason(spec: Transition, value, errors: dict) -> str | None:
    if spec.reason_codes:
        return _codes(value, "reason", spec.reason_codes, errors)
    return clean_text(value, "reason", errors, required=True, max_len=MAX_REASON, multiline=True) or None


#: field -> (Params attribute, cleaner(session, spec, value, errors)).
_FIELDS = {
    "reason": ("reason", lambda s, spec, v, e: _reason(spec, v, e)),
    "note": ("note", lambda s, spec, v, e: clean_text(v, "note", e, required=False, max_len=MAX_NOTE,
                                                      multiline=True) or None),
    "text": ("text", lambda s, spec, v, e: clean_text(v, "text", e, required=True, max_len=MAX_TEXT,
                                                      multiline=True) or None),
    "office": ("office", lambda s, spec, v, e: _office(s, v, "office", e, external=False)),
    "unit": ("unit", lambda s, spec, v, e: _office(s, v, "unit", e, external=True)),
    "review_of_unit": ("review_of_unit", lambda s, spec, v, e: _office(s, v, "review_of_unit", e, external=True)),
    "days": ("days", lambda s, spec, v, e: _whole(v, "days", e)),
    "on": ("on", lambda s, spec, v, e: _parse_date(v, "on", e)),
    "received_on": ("received_on", lambda s, spec, v, e: _parse_date(v, "received_on", e)),
    "due_on": ("due_on", lambda s, spec, v, e: _parse_date(v, "due_on", e)),
    "finding": ("finding", lambda s, spec, v, e: _finding(v, e)),
    "finding_id": ("finding_id", lambda s, spec, v, e: _whole(v, "finding_id", e, days=False)),
    "repeat_of": ("repeat_of", lambda s, spec, v, e: _serial(s, v, e)),
    "body": ("body", lambda s, spec, v, e: _short(v, "body", e, 200)),
    "document_number": ("document_number", lambda s, spec, v, e: _short(v, "document_number", e, 64)),
    "outcome": ("outcome", lambda s, spec, v, e: _codes(v, "outcome", REVIEW_OUTCOMES, e)),
    "remit": ("remit", lambda s, spec, v, e: _codes(v, "remit", REMIT_GROUNDS, e)),
    "report_back": ("report_back", lambda s, spec, v, e: _flag(v, "report_back", e)),
    "representatives": ("representatives", lambda s, spec, v, e: _people(v, e)),
    "conduct": ("conduct", lambda s, spec, v, e: _conduct(v, e)),
    "document": ("document", lambda s, spec, v, e: clean_document(s, v, e)),
    "confirm_old_received_date": ("confirm_old_received_date",
                                  lambda s, spec, v, e: _flag(v, "confirm_old_received_date", e)),
}
#: Every input field a transition may declare.
FIELDS = tuple(_FIELDS)


def parse(session: Session, spec: Transition, raw: dict) -> Params:
    """Clean the input of ``spec``: required fields present, unused ones refused, each named."""
    errors: dict[str, str] = {}
    given = {k: v for k, v in raw.items() if v is not None and v != "" and v != {} and v != []}
    if spec.name == "transfer" and "unit" not in given and "office" in given:
        given["unit"] = given.pop("office")   # the API's generic 'office' names the unit of a transfer
    for name in sorted(set(given) - set(spec.fields)):
        errors[name] = Msg("Not used by '%(step)s'.", step=Codes((spec.name,)))
    for name in spec.required:
        if name not in given:
            errors[name] = "This field is required."
    p = Params()
    for name, value in given.items():
        if name in spec.fields:
            attribute, clean = _FIELDS[name]
            setattr(p, attribute, clean(session, spec, value, errors))
    if errors:
        raise ValidationError(Msg("The '%(step)s' step cannot be applied as given.", step=Codes((spec.name,))), fields=errors)
    return p
