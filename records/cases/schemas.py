"""Validation of registration input, shared by the web form, the JSON API and the CLI.

``validate_registration`` returns clean values or raises ``ValidationError`` naming every
bad field at once."""
from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from records.reference.vocab import CHANNELS
from records.errors import Codes, Msg, ValidationError
from records.identity import valid_id_number, valid_phone

MAX_SUBJECT = 200
MAX_BODY = 20_000
MAX_NOTES = 5_000
MAX_NAME = 100
MAX_ADDRESS = 300
MAX_PEOPLE = 10_000
#: At most this many members of staff named as complained about (被反映人) on one record.
MAX_ACCUSED = 20
_USERNAME = re.compile(r"[a-z][a-z0-9_.-]{1,63}")

#: C0/C1 control characters other than tab and newline are refused in every text field, and
#: so are lone surrogates (JSON's "\ud800" escapes): they cannot be encoded, hence not sealed.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufffe\uffff\ud800-\udfff]")


@dataclass
class RegistrationData:
    channel: str
    received_at: dt.datetime
    region: str
    category: str
    subject: str
    body: str
    people_count: int = 1
    notes: str = ""
    petitioner: dict = field(default_factory=dict)
    first_responder: str | None = None
    #: User names of staff the letter complains about (被反映人); they are refused the record.
    accused: list[str] = field(default_factory=list)
    #: Code of the office or unit the letter complains about (statistics: units complained about most).
    complained_unit: str | None = None

    def document(self) -> dict:
        return {"subject": self.subject, "body": self.body, "notes": self.notes,
                "petitioner": dict(self.petitioner)}


def clean_text(value, name: str, errors: dict, *, required: bool, max_len: int, multiline: bool = False) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        errors[name] = "Must be text."
        return ""
    value = unicodedata.normalize("NFC", value.replace("\r\n", "\n").replace("\r", "\n")).strip()
    if _CONTROL.search(value) or (not multiline and ("\n" in value or "\t" in value)):
        errors[name] = "Contains control characters that are not allowed."
        return ""
    if required and not value:
        errors[name] = "This field is required."
    elif len(value) > max_len:
        errors[name] = Msg("At most %(n)s characters.", n=max_len)
    return value


def parse_received_at(value, tz: ZoneInfo, errors: dict, now: dt.datetime | None = None) -> dt.datetime | None:
    """ISO 8601 date or date-time; naive values are in the office's time zone."""
    if value is None or value == "":
        errors["received_at"] = "This field is required."
        return None
    if not isinstance(value, str):
        errors["received_at"] = "Must be an ISO 8601 date or date-time, e.g. 2026-11-25T09:30."
        return None
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
            parsed = dt.datetime.combine(dt.date.fromisoformat(value.strip()), dt.time(9, 0))
        else:
            parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        errors["received_at"] = "Not a valid date, e.g. 2026-11-25 or 2026-11-25T09:30."
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    now = now or dt.datetime.now(dt.UTC)
    if parsed > now + dt.timedelta(minutes=10):
        errors["received_at"] = "Cannot be in the future."
        return None
    if parsed.year < 2000:
        errors["received_at"] = "Must be in the year 2000 or later."
        return None
    return parsed.astimezone(dt.UTC)


def validate_registration(raw: dict, *, tz: ZoneInfo, now: dt.datetime | None = None) -> RegistrationData:
    if not isinstance(raw, dict):
        raise ValidationError("The request body must be a JSON object.")
    errors: dict[str, str] = {}
    channel = raw.get("channel")
    if channel not in CHANNELS:
        errors["channel"] = Msg("Must be one of: %(codes)s.", codes=Codes(CHANNELS))
    category = raw.get("category")
    if not isinstance(category, str) or not re.fullmatch(r"[a-z][a-z0-9_]{1,31}", category or ""):
        # which codes exist is the instance's vocabulary (records.reference.categories), checked on save
        errors["category"] = "Must be one of the bureau's category codes."
        category = ""
    region = raw.get("region")
    if not isinstance(region, str) or not re.fullmatch(r"\d{6}", region or ""):
        errors["region"] = "Must be a 6-digit region code."
        region = ""
    received_at = parse_received_at(raw.get("received_at"), tz, errors, now)
    subject = clean_text(raw.get("subject"), "subject", errors, required=True, max_len=MAX_SUBJECT)
    body = clean_text(raw.get("body"), "body", errors, required=True, max_len=MAX_BODY, multiline=True)
    notes = clean_text(raw.get("notes"), "notes", errors, required=False, max_len=MAX_NOTES, multiline=True)

    people = raw.get("people_count", 1)
    if people in (None, ""):
        people = 1
    if isinstance(people, str) and people.strip().isdigit():
        people = int(people.strip())
    if isinstance(people, bool) or not isinstance(people, int) or not 1 <= people <= MAX_PEOPLE:
        errors["people_count"] = Msg("Must be a whole number from 1 to %(n)s.", n=MAX_PEOPLE)
        people = 1

    pet_raw = raw.get("petitioner") or {}
    if not isinstance(pet_raw, dict):
        errors["petitioner"] = "Must be an object with name, id_number, phone, address."
        pet_raw = {}
    pet_errors: dict[str, str] = {}
    petitioner = {
        "name": clean_text(pet_raw.get("name"), "name", pet_errors, required=False, max_len=MAX_NAME),
        # Room for spaces between digit groups; the check below enforces 15 or 18 after normalising.
        "id_number": clean_text(pet_raw.get("id_number"), "id_number", pet_errors, required=False, max_len=30),
        "phone": clean_text(pet_raw.get("phone"), "phone", pet_errors, required=False, max_len=30),
        "address": clean_text(pet_raw.get("address"), "address", pet_errors, required=False, max_len=MAX_ADDRESS),
    }
    if petitioner["id_number"] and "id_number" not in pet_errors and not valid_id_number(petitioner["id_number"]):
        pet_errors["id_number"] = "Not a valid resident ID number (18 characters with a correct check digit)."
    if petitioner["id_number"] and "id_number" not in pet_errors:
        from records.identity import normalise_id_number
        petitioner["id_number"] = normalise_id_number(petitioner["id_number"])
    if petitioner["phone"] and "phone" not in pet_errors and not valid_phone(petitioner["phone"]):
        pet_errors["phone"] = "Not a valid phone number."
    errors.update({f"petitioner.{k}": v for k, v in pet_errors.items()})

    first_responder = raw.get("first_responder") or None
    # Shaped like a user name before it reaches a query (a lone surrogate would not even encode).
    if first_responder is not None and (not isinstance(first_responder, str)
                                        or not _USERNAME.fullmatch(first_responder)):
        errors["first_responder"] = "Must be a user name."
        first_responder = None

    accused = parse_accused(raw.get("accused"), errors)
    complained_unit = raw.get("complained_unit") or None
    if complained_unit is not None and (not isinstance(complained_unit, str) or len(complained_unit) > 32
                                        or not complained_unit.strip()):
        errors["complained_unit"] = "Must be the code of an office or unit."
        complained_unit = None

    unknown = set(raw) - {"channel", "received_at", "region", "category", "subject", "body", "notes",
                          "people_count", "petitioner", "first_responder", "accused", "complained_unit"}
    if unknown:
        errors.update({k: "Unknown field." for k in sorted(unknown)[:20] if isinstance(k, str)})
    if errors:
        raise ValidationError("Some fields are missing or invalid.", fields=errors)
    return RegistrationData(channel=channel, received_at=received_at, region=region, category=category,
                            subject=subject, body=body, people_count=people, notes=notes,
                            petitioner=petitioner, first_responder=first_responder, accused=accused,
                            complained_unit=complained_unit.strip() if complained_unit else None)


def parse_accused(value, errors: dict) -> list[str]:
    """User names of accused staff: a JSON list of strings, or (from the web form) one string
    separated by commas, 、 or spaces. Duplicates are dropped; order is kept."""
    if value is None or value == "" or value == []:
        return []
    if isinstance(value, str):
        if len(value) > MAX_ACCUSED * 65:
            errors["accused"] = Msg("At most %(n)s user names.", n=MAX_ACCUSED)
            return []
        items = [v for v in re.split(r"[\s,，、;；]+", value) if v]
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        items = [v.strip() for v in value]
    else:
        errors["accused"] = "Must be a list of user names."
        return []
    if len(items) > MAX_ACCUSED:
        errors["accused"] = Msg("At most %(n)s user names.", n=MAX_ACCUSED)
        return []
    if any(not _USERNAME.fullmatch(v) for v in items):
        errors["accused"] = "Each entry must be a user name (lower-case letters, digits, '_', '.', '-')."
        return []
    return list(dict.fromkeys(items))
