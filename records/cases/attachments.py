"""Attachments of a record: checked (count, size, type by content), sealed with the record's
data key into the blob store, and added to a registered record with its audit entry."""
from __future__ import annotations

import re
from dataclasses import dataclass

import filetype
from sqlalchemy.orm import Session

from records import audit, policy, sealing
from records.accounts.models import User
from records.cases.filenames import clean_filename
from records.db import new_uid
from records.errors import Msg, TooLarge, ValidationError
from records.instance import instance_of
from records.intake.extract import legacy_text
from records.models import Attachment, Record, RecordEvent


@dataclass
class Upload:
    """An attachment as received: the file name the sender gave, and the bytes (in memory)."""

    filename: str
    data: bytes


_MAIL_HEADERS = re.compile(rb"^(Received|Return-Path|From|MIME-Version|Message-ID|Date|Subject|To):", re.IGNORECASE)


def sniff_type(data: bytes) -> str | None:
    kind = filetype.guess(data)
    if kind is not None:
        return kind.mime
    head = data[:4096]
    if _MAIL_HEADERS.match(head):
        return "message/rfc822"
    try:
        head.decode("utf-8")
        return "text/plain"
    except UnicodeDecodeError:
        # a cut in the middle of a multi-byte character at the 4096 boundary is still text
        try:
            data.decode("utf-8")
            return "text/plain"
        except UnicodeDecodeError:
            # GBK, GB18030 or Big5 text (common in mail and from older Chinese systems)
            return "text/plain" if legacy_text(data) else None


def check_uploads(session: Session, uploads: list[Upload]) -> list[tuple[Upload, str]]:
    settings = instance_of(session).settings
    if len(uploads) > settings.max_attachments:
        raise ValidationError(Msg("At most %(n)s attachments.", n=settings.max_attachments),
                              fields={"attachments": Msg("At most %(n)s files.", n=settings.max_attachments)})
    checked = []
    for up in uploads:
        if len(up.data) > settings.max_attachment_bytes:
            raise TooLarge(Msg("An attachment is larger than %(n)s MB.", n=settings.max_attachment_bytes // (1024 * 1024)),
                           fields={"attachments": "File too large."})
        if not up.data:
            raise ValidationError("An attachment is empty.", fields={"attachments": "Empty file."})
        mime = sniff_type(up.data)
        if mime not in settings.allowed_attachment_types:
            raise ValidationError("An attachment's type is not accepted (PDF, JPEG, PNG, TIFF, GIF, e-mail, text).",
                                  fields={"attachments": "Type not accepted."})
        checked.append((up, mime))
    return checked


def track_blob(session: Session, uid: str) -> None:
    """A blob written in this unit of work: removed again if it rolls back."""
    session.info.setdefault("xinfang.new_blobs", []).append(uid)


def add_attachment(session: Session, record: Record, upload: Upload, mime: str, *, by: User,
                   kind: str = "scan", hooks: bool = True) -> Attachment:
    """Seal ``upload`` into the blob store as an attachment of ``record``; ``hooks=False`` when
    its text is already known (a scan recognised on the registration form: records.intake.drafts)."""
    uid = new_uid()
    name = clean_filename(upload.filename)   # no control or bidi characters (issue 15)
    # Seal before the Attachment joins record.attachments: unwrapping the data key may load
    # record.key, and that autoflush must not meet a half-built attachment.
    filename_sealed = sealing.seal_json(session, record, "attachment-name", name, uid)
    att = Attachment(uid=uid, record=record, content_type=mime, size=len(upload.data), kind=kind,
                     created_by_id=by.id, filename_sealed=filename_sealed)
    session.add(att)
    inst = instance_of(session)
    inst.blobs.put(att.uid, sealing.seal_bytes(session, record, "attachment", upload.data, att.uid))
    track_blob(session, att.uid)
    for hook in inst.on_attachment if hooks else ():  # intake queues the extraction of its text
        hook(session, record, att, by)
    return att


#: The types a decision document of an outside body may have (a PDF or a scanned page).
DOCUMENT_TYPES = ("application/pdf", "image/jpeg", "image/png", "image/tiff", "image/gif")


def clean_document(session: Session, value, errors: dict) -> tuple[Upload, str] | None:
    """A transition's ``document`` (e.g. the superior body's decision): an uploaded PDF or image
    within the attachment limits, as (upload, sniffed type); problems go into ``errors``."""
    if not isinstance(value, Upload):
        errors["document"] = "Send the document as a file (multipart/form-data, field 'document')."
        return None
    settings = instance_of(session).settings
    if not value.data:
        errors["document"] = "Empty file."
    elif len(value.data) > settings.max_attachment_bytes:
        errors["document"] = "File too large."
    else:
        mime = sniff_type(value.data)
        if mime in DOCUMENT_TYPES and mime in settings.allowed_attachment_types:
            return value, mime
        errors["document"] = "Must be a PDF or an image (JPEG, PNG, TIFF, GIF)."
    return None


def room_for_one_more(session: Session, record: Record) -> str | None:
    """Why ``record`` cannot take another attachment, or None."""
    most = instance_of(session).settings.max_attachments
    return "Too many attachments on this record." if len(record.attachments) >= most else None


def attach(session: Session, record: Record, uploads: list[Upload], *, by: User, address: str = "") -> list[Attachment]:
    """Add attachments to a registered record (e.g. a scan that arrived after the e-mail)."""
    policy.require(by, policy.CORRECT_RECORD, record)
    if not uploads:
        raise ValidationError("No file was sent.", fields={"attachments": "Required."})
    checked = check_uploads(session, list(uploads))
    if len(record.attachments) + len(checked) > instance_of(session).settings.max_attachments:
        raise ValidationError("Too many attachments on this record.", fields={"attachments": "Too many files."})
    added = [add_attachment(session, record, up, mime, by=by) for up, mime in checked]
    session.add(RecordEvent(record_id=record.id, actor_id=by.id, kind="attached",
                            from_status=record.status, to_status=record.status))
    session.flush()
    audit.record(session, "attachment.add", actor=by, target=record.serial, address=address,
                 detail={"attachments": [a.uid for a in added]})
    return added
