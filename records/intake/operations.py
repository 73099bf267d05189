"""Services of intake: extract (and recognise) the text of every attachment in the job
runner, seal it with the record's data key, offer it to the clerk, import e-mail.

* ``on_attachment`` (a hook the composition root puts in ``inst.on_attachment``) queues an
  ``intake.extract`` job for every attachment that can have text, with a ``pending`` row.
* ``run_extraction`` (the job's handler) works page by page: each page's text is sealed
  and committed with the page count before the next page starts, so a process killed
  mid-document loses at most the page it was on and the next attempt resumes after the
  last committed page. A refusal (corrupt, encrypted, a bomb, too many pages) is kept as a
  clear message on the attachment and fails the job with it; the letter stays registered.
* ``catch_up`` (``xinfang intake ocr --pending``) queues what has no job and runs them.
* ``accept_text``: the clerk, having read and corrected the recognised text beside the
  image, takes it as the letter's body (a correction, with its history). Nothing is filled
  silently.
* ``import_mail``: one e-mail registered as a letter of the ``email`` channel.
"""
from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from records import audit, policy, sealing
from records.db import utcnow
from records.errors import Conflict, NotFound, ValidationError, XinfangError
from records.instance import Instance, instance_of
from records.jobs import runner as jobs
from records.jobs.models import ACTIVE, Job
from records.models import Attachment, OutboxEntry, Record

from . import extract, ocr
from .models import AttachmentText

log = logging.getLogger("xinfang.intake")

#: The job kind of text extraction and recognition.
JOB_KIND = "intake.extract"
#: The field name bound into the sealed text's associated data.
TEXT_FIELD = "attachment-text"
#: Attachment kinds whose text is not extracted (the original of an imported e-mail: its
#: body is already the letter's body).
SKIP_KINDS = ("email",)


def register_jobs(registry) -> None:
    """Register intake's job handler (called by the composition root)."""
    registry.register(JOB_KIND, run_extraction, max_attempts=3)


# -- queueing ---------------------------------------------------------------------------------
def on_attachment(session: Session, record: Record, att: Attachment, by=None) -> AttachmentText | None:
    """Queue the extraction of a new attachment's text (in the caller's transaction)."""
    if att.kind in SKIP_KINDS or not extract.extractable(att.content_type):
        return None
    session.flush()
    row = AttachmentText(attachment_id=att.id, record_id=record.id, status="pending", method="",
                         pages_done=0, updated_at=utcnow())
    session.add(row)
    session.flush()
    _submit(session, record, att, by)
    return row


def _submit(session: Session, record: Record, att: Attachment, by=None) -> Job:
    return jobs.submit(session, JOB_KIND, payload={"attachment_id": att.id}, record=record, by=by,
                       dedupe_key=f"attachment:{att.uid}")


def catch_up(inst: Instance, *, on_progress=None) -> int:
    """Queue a job for every unfinished extraction that has none (its job failed for a
    transient reason, or was never queued), then run the pending ones. Returns how many ran."""
    with inst.unit_of_work() as s:
        rows = s.execute(select(AttachmentText).where(AttachmentText.status.in_(("pending", "running")))).scalars()
        for row in rows:
            att = s.get(Attachment, row.attachment_id)
            active = s.execute(select(Job.id).where(Job.kind == JOB_KIND, Job.status.in_(ACTIVE),
                                                    Job.dedupe_key == f"attachment:{att.uid}")).first()
            if active is None:
                _submit(s, att.record, att)
    return jobs.run_pending(inst, kinds=[JOB_KIND], on_progress=on_progress)


def pending_count(session: Session) -> int:
    return len(session.execute(select(AttachmentText.id).where(
        AttachmentText.status.in_(("pending", "running")))).all())


# -- the job ------------------------------------------------------------------------------------
@dataclass
class _Loaded:
    data: bytes
    mime: str
    pages: list[str]


def _load(inst: Instance, attachment_id: int) -> _Loaded | None:
    with inst.unit_of_work() as s:
        row = _row(s, attachment_id)
        if row is None or row.status in ("done", "empty"):
            return None
        att = s.get(Attachment, attachment_id)
        record = att.record
        data = sealing.open_bytes(s, record, "attachment", inst.blobs.get(att.uid), att.uid)
        pages = sealing.open_json(s, record, TEXT_FIELD, row.pages_sealed, att.uid) if row.pages_sealed else []
        row.status, row.error = "running", None
        return _Loaded(data=data, mime=att.content_type, pages=list(pages))


def _row(session: Session, attachment_id: int) -> AttachmentText | None:
    return session.execute(select(AttachmentText).where(
        AttachmentText.attachment_id == attachment_id)).scalar_one_or_none()


def _save(inst: Instance, attachment_id: int, pages: list[str] | None = None, **values) -> None:
    """Commit the pages so far (sealed) and the row's progress, in one short transaction."""
    with inst.unit_of_work() as s:
        row = _row(s, attachment_id)
        att = s.get(Attachment, attachment_id)
        if pages is not None:
            row.pages_sealed = sealing.seal_json(s, att.record, TEXT_FIELD, pages, att.uid)
            row.pages_done = len(pages)
        for k, v in values.items():
            setattr(row, k, v)
        row.updated_at = utcnow()
        if values.get("status") in ("done", "empty", "failed"):
            s.add(OutboxEntry(record_uid=att.record.uid, op="index"))
            audit.record(s, "attachment.extract", target=att.record.serial, actor_name="system",
                         detail={"attachment": att.uid, "status": values["status"], "method": row.method,
                                 "pages": row.pages_done})


def run_extraction(inst: Instance, ctx) -> None:
    """The ``intake.extract`` handler: extract or recognise one attachment, page by page."""
    attachment_id = int(ctx.payload["attachment_id"])
    try:
        loaded = _load(inst, attachment_id)
    except NotFound:
        raise extract.ExtractionError("The attachment's file is missing from the blob store.") from None
    if loaded is None:
        return
    try:
        doc = extract.open_document(loaded.data, loaded.mime)
    except extract.ExtractionError as exc:
        _save(inst, attachment_id, status="failed", error=exc.message)
        raise
    pages = loaded.pages[:doc.pages]
    _save(inst, attachment_id, method=doc.method, pages_total=doc.pages)
    ctx.progress(len(pages), doc.pages, _note(len(pages), doc.pages))
    engine = None
    for i in range(len(pages), doc.pages):
        try:
            page = doc.page(i)
            if page.text is not None:
                text = page.text
            else:
                engine = engine or _engine(inst)
                text = ocr.recognise_page(engine, page.image)
        except extract.ExtractionError as exc:
            _save(inst, attachment_id, pages, status="failed", error=exc.message)
            raise
        pages.append(text.strip())
        _save(inst, attachment_id, pages)
        ctx.checkpoint({"pages_done": len(pages)})
        ctx.progress(len(pages), doc.pages, _note(len(pages), doc.pages))
    status = "done" if any(p for p in pages) else "empty"
    _save(inst, attachment_id, pages, status=status, error=None)


def _note(done: int, total: int) -> str:
    return f"page {min(done + 1, total)} of {total}" if done < total else f"{total} of {total} pages"


def _engine(inst: Instance) -> ocr.Engine:
    if inst.ocr is None:
        raise XinfangError("No OCR engine is configured on this instance (build it with "
                           "app.composition.build_instance).")
    return inst.ocr


# -- reading ------------------------------------------------------------------------------------------
@dataclass
class TextStatus:
    """What the record page shows of one attachment's extraction (clear metadata)."""

    attachment_uid: str
    status: str
    method: str
    pages_done: int
    pages_total: int | None
    error: str | None
    accepted: bool
    job_status: str | None = None
    job_error: str | None = None


def statuses(session: Session, record: Record) -> dict[str, TextStatus]:
    """Attachment uid -> its extraction's status, with its latest job's."""
    rows = session.execute(select(AttachmentText, Attachment.uid).join(
        Attachment, Attachment.id == AttachmentText.attachment_id).where(
        AttachmentText.record_id == record.id)).all()
    job_rows = session.execute(select(Job).where(Job.record_id == record.id, Job.kind == JOB_KIND)
                               .order_by(Job.id)).scalars().all()
    latest = {j.dedupe_key: j for j in job_rows}
    out = {}
    for row, uid in rows:
        job = latest.get(f"attachment:{uid}")
        status, error = row.status, row.error
        if status in ("pending", "running") and job is not None and job.status == "failed":
            # the job gave up (its attempts spent) before the text was finished
            status, error = "failed", job.error or "The extraction stopped without finishing."
        out[uid] = TextStatus(uid, status, row.method, row.pages_done, row.pages_total, error,
                              row.accepted_at is not None, job.status if job else None,
                              job.error if job else None)
    return out


def _pages(session: Session, record: Record, att: Attachment, row: AttachmentText) -> list[str]:
    if not row.pages_sealed:
        return []
    return sealing.open_json(session, record, TEXT_FIELD, row.pages_sealed, att.uid)


def any_text(session: Session) -> bool:
    """Whether any attachment has extracted text (search asks before counting its facet)."""
    return session.execute(select(AttachmentText.id).where(AttachmentText.pages_sealed.is_not(None))
                           .limit(1)).first() is not None


def text_for_index(session: Session, record: Record) -> str:
    """The extracted text of every attachment of ``record`` (decrypted in memory, for the indexer)."""
    rows = session.execute(select(AttachmentText, Attachment).join(
        Attachment, Attachment.id == AttachmentText.attachment_id).where(
        AttachmentText.record_id == record.id, AttachmentText.pages_sealed.is_not(None))
        .order_by(Attachment.id)).all()
    return "\n".join("\n".join(_pages(session, record, att, row)) for row, att in rows)


def _attachment(record: Record, uid: str) -> Attachment:
    att = next((a for a in record.attachments if a.uid == uid), None)
    if att is None:
        raise NotFound("No such attachment.")
    return att


def attachment_text(session: Session, record: Record, uid: str, user, *, address: str = "") -> tuple[dict, list[str]]:
    """One attachment's extracted text, page by page, for those who may read the letter (audited)."""
    policy.require(user, policy.VIEW_CONTENT, record)
    att = _attachment(record, uid)
    row = _row(session, att.id)
    pages = _pages(session, record, att, row) if row is not None else []
    name = sealing.open_json(session, record, "attachment-name", att.filename_sealed, att.uid)
    audit.record(session, "attachment.read_text", actor=user, target=record.serial, address=address,
                 detail={"attachment": att.uid})
    info = {"uid": att.uid, "filename": name, "content_type": att.content_type,
            # "none": an attachment whose type has no text (or the original of an e-mail)
            "status": row.status if row is not None else "none", "method": row.method if row is not None else "",
            "pages_done": row.pages_done if row is not None else 0,
            "pages_total": row.pages_total if row is not None else None,
            "error": row.error if row is not None else None,
            "accepted": row is not None and row.accepted_at is not None}
    return info, pages


def accept_text(session: Session, record: Record, uid: str, body: str, *, by, address: str = "") -> Record:
    """Take the text the clerk read and corrected beside the scan as the letter's body."""
    from records.cases import operations as cases

    policy.require(by, policy.CORRECT_RECORD, record)
    att = _attachment(record, uid)
    row = _row(session, att.id)
    if row is None or row.status != "done":
        raise Conflict("This attachment has no finished text to take as the body.")
    if not isinstance(body, str) or not body.strip():
        raise ValidationError("The text to take as the body is empty.", fields={"body": "This field is required."})
    cases.correct(session, record, {"body": body}, by=by, reason="", address=address)
    row.accepted_at = utcnow()
    audit.record(session, "attachment.accept_text", actor=by, target=record.serial, address=address,
                 detail={"attachment": att.uid})
    session.flush()
    return record


def message_token(session: Session, message_id: str) -> bytes:
    """Keyed hash of a normalised Message-ID (the clear id names the sender's server)."""
    key = instance_of(session).purpose_key("mail-id")
    return hmac.digest(key, message_id.strip().lower().encode("utf-8"), "sha256")


def failed_count(session: Session) -> int:
    return len(session.execute(select(AttachmentText.id).where(AttachmentText.status == "failed")).all())
