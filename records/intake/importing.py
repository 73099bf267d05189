"""E-mail import: each message registered as a letter of the ``email`` channel.

The sender's name becomes the petitioner's name, the Date header the time of receipt, the
subject and the text (or HTML) part the subject and body; the original message is kept as
an attachment of kind ``email`` and every attachment it carries is attached (and its text
extracted in the job runner like any other). A message already imported (same Message-ID,
kept only as a keyed hash) is refused. What could not be read exactly (a wrong character
set, an attachment of a type not accepted, a body longer than a letter's) is written in the
letter's notes, sealed like the rest, and the letter is registered all the same.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from records import audit, policy
from records.cases import operations as cases
from records.cases.schemas import MAX_BODY, MAX_NAME, MAX_NOTES, MAX_SUBJECT
from records.db import utcnow
from records.errors import Conflict, Msg, TooLarge, ValidationError, XinfangError
from records.instance import instance_of
from records.models import Record
from records.reference import regions

from .extract import ExtractionError
from .mail import MailMessage, parse_message, split_mbox, is_mbox
from .models import MailImport
from .operations import message_token

#: Control characters a letter's text may not hold (tabs and line breaks stay).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ufffe\uffff\ud800-\udfff]")


@dataclass
class ImportResult:
    """One message's outcome: the serial it was registered as, or why it was not."""

    index: int
    serial: str | None = None
    refused: str | None = None
    duplicate_of: str | None = None
    problems: list[str] = field(default_factory=list)


def _clean(text: str, limit: int) -> tuple[str, bool]:
    text = _CONTROL.sub("", (text or "").replace("\r\n", "\n").replace("\r", "\n")).strip()
    return (text[:limit], True) if len(text) > limit else (text, False)


def _registration(session: Session, msg: MailMessage, region: str, category: str) -> tuple[dict, list[str]]:
    notes = list(msg.problems)
    subject, cut = _clean(msg.subject, MAX_SUBJECT)
    if cut:
        notes.append("The subject was longer than a letter's and was cut; the original message is attached.")
    body, cut = _clean(msg.body, MAX_BODY)
    if cut:
        notes.append("The body was longer than a letter's and was cut; the original message is attached.")
    received = msg.date if msg.date and msg.date <= utcnow() + dt.timedelta(minutes=10) else utcnow()
    if msg.date and received is not msg.date:
        notes.append("The e-mail's date is in the future; the time of import is used.")
    raw = {
        "channel": "email", "received_at": received.isoformat(), "region": region, "category": category,
        "subject": subject or "(no subject)", "body": body or "(no text; see the attachments)",
        "petitioner": {"name": _clean(msg.sender_name or msg.sender_address, MAX_NAME)[0]},
    }
    return raw, notes


def _default_region(session: Session, region: str | None) -> str:
    if region:
        return region
    area = regions.jurisdiction(session)
    if area is None:
        raise ValidationError("Name the region the e-mails are registered under (the bureau has no "
                              "jurisdiction set).", fields={"region": "Required."})
    return area.code


def import_message(session: Session, data: bytes, *, by, region: str | None = None, category: str = "other",
                   address: str = "") -> Record:
    """Register one e-mail (the bytes of an .eml) as a letter; Conflict when already imported."""
    policy.require(by, policy.REGISTER)
    msg = parse_message(data)
    token = message_token(session, msg.message_id)
    seen = session.execute(select(MailImport).where(MailImport.message_token == token)).scalar_one_or_none()
    if seen is not None:
        serial = session.get(Record, seen.record_id).serial
        raise Conflict(Msg("This e-mail (same Message-ID) was already registered as %(serial)s.", serial=serial))
    raw, notes = _registration(session, msg, _default_region(session, region), category)
    settings = instance_of(session).settings
    uploads = [cases.Upload("message.eml", data)] + [cases.Upload(a.filename, a.data) for a in msg.attachments]
    accepted = []
    for n, up in enumerate(uploads):
        if len(accepted) >= settings.max_attachments:
            notes.append(f"Only {settings.max_attachments} attachments are kept; "
                         f"{len(uploads) - n} more are in the original message.")
            break
        try:
            accepted.append((up, cases.check_uploads(session, [up])[0][1], "email" if n == 0 else "scan"))
        except (ValidationError, TooLarge) as exc:
            what = "the original message" if n == 0 else f"attachment {n} of {len(uploads) - 1}"
            notes.append(f"Not attached: {what} ({exc.message})")
    raw["notes"] = _clean("\n".join(notes), MAX_NOTES)[0]
    record = cases.register(session, raw, by=by, address=address)
    for up, mime, kind in accepted:
        cases.add_attachment(session, record, up, mime, by=by, kind=kind)
    try:
        with session.begin_nested():
            session.add(MailImport(message_token=token, record_id=record.id, imported_at=utcnow()))
    except IntegrityError:  # the same message imported by another transaction meanwhile
        raise Conflict("This e-mail (same Message-ID) is being registered by someone else.") from None
    audit.record(session, "mail.import", actor=by, target=record.serial, address=address,
                 detail={"attachments": len(accepted), "problems": len(notes)})
    session.flush()
    return record


def import_many(inst, messages: list[bytes], *, by_id: int, region: str | None = None, category: str = "other",
                address: str = "") -> list[ImportResult]:
    """Import each message in its own unit of work (one bad message does not stop the rest)."""
    from records.accounts.models import User

    results = []
    for i, data in enumerate(messages, 1):
        result = ImportResult(index=i)
        try:
            with inst.unit_of_work() as s:
                user = s.get(User, by_id)
                record = import_message(s, data, by=user, region=region, category=category, address=address)
                result.serial = record.serial
        except Conflict as exc:
            result.refused = exc.message
            result.duplicate_of = exc.message.rsplit(" ", 1)[-1].rstrip(".") if "registered as" in exc.message else None
        except (ExtractionError, XinfangError) as exc:
            result.refused = exc.message
        results.append(result)
    return results


def split_upload(data: bytes) -> list[bytes]:
    """The messages of an uploaded file: an mbox, or one message."""
    return split_mbox(data) if is_mbox(data) else [data]
