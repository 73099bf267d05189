"""A transition's input, cleaned: required fields present, unused ones refused, each named."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from records.cases.declarations import FINDING_OUTCOMES, MAX_NOTE, MAX_REASON, MAX_TEXT, Params, Transition
from records.cases.schemas import clean_text
from records.errors import ValidationError
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
        errors[name] = f"No office or unit with code {code.strip()[:32]!r}."
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
        errors["finding"] = "Must be an object with outcome, corrective_action, evidence."
        return None
    unknown = set(raw) - {"outcome", "corrective_action", "evidence"}
    if unknown:
        errors["finding"] = "Unknown field(s): " + ", ".join(sorted(str(k) for k in unknown)[:5]) + "."
        return None
    outcome = raw.get("outcome")
    if outcome not in FINDING_OUTCOMES:
        errors["finding.outcome"] = "Must be one of: " + ", ".join(FINDING_OUTCOMES) + "."
    action = clean_text(raw.get("corrective_action"), "finding.corrective_action", errors, required=False,
                        max_len=MAX_NOTE, multiline=True)
    evidence = clean_text(raw.get("evidence"), "finding.evidence", errors, required=False, max_len=MAX_TEXT,
                          multiline=True)
    return {"outcome": outcome, "corrective_action": action, "evidence": evidence}


def parse(session: Session, spec: Transition, raw: dict) -> Params:
    """Clean the input of ``spec``: required fields present, unused ones refused, each named."""
    errors: dict[str, str] = {}
    given = {k: v for k, v in raw.items() if v is not None and v != "" and v != {}}
    if spec.name == "transfer" and "unit" not in given and "office" in given:
        given["unit"] = given.pop("office")   # the API's generic 'office' names the unit of a transfer
    for name in sorted(set(given) - set(spec.fields)):
        errors[name] = f"Not used by '{spec.name}'."
    for name in spec.required:
        if name not in given:
            errors[name] = "This field is required."
    p = Params()
    if "reason" in given:
        if spec.reason_codes:
            if given["reason"] not in spec.reason_codes:
                errors["reason"] = "Must be one of: " + ", ".join(spec.reason_codes) + "."
            else:
                p.reason = given["reason"]
        else:
            p.reason = clean_text(given["reason"], "reason", errors, required=True, max_len=MAX_REASON,
                                  multiline=True) or None
    if "note" in given:
        p.note = clean_text(given["note"], "note", errors, required=False, max_len=MAX_NOTE, multiline=True) or None
    if "text" in given:
        p.text = clean_text(given["text"], "text", errors, required=True, max_len=MAX_TEXT, multiline=True) or None
    if "office" in given and "office" in spec.fields:
        p.office = _office(session, given["office"], "office", errors, external=False)
    if "unit" in given and "unit" in spec.fields:
        p.unit = _office(session, given["unit"], "unit", errors, external=True)
    if "days" in given:
        days = given["days"]
        if isinstance(days, str) and days.strip().lstrip("-").isdigit():
            days = int(days.strip())
        if isinstance(days, bool) or not isinstance(days, int):
            errors["days"] = "Must be a whole number of days."
        else:
            p.days = days
    if "on" in given:
        p.on = _parse_date(given["on"], "on", errors)
    if "received_on" in given:
        p.received_on = _parse_date(given["received_on"], "received_on", errors)
    if "finding" in given and "finding" in spec.fields:
        p.finding = _finding(given["finding"], errors)
    if "repeat_of" in given and "repeat_of" in spec.fields:
        serial = given["repeat_of"]
        other = session.execute(select(Record).where(Record.serial == serial)).scalar_one_or_none() \
            if isinstance(serial, str) else None
        if other is None:
            errors["repeat_of"] = "No record with that serial."
        p.repeat_of = other
    if errors:
        raise ValidationError(f"The '{spec.name}' step cannot be applied as given.", fields=errors)
    return p
