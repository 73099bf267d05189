"""Scan drafts: a scan uploaded on the registration form, recognised before its letter exists,
so the clerk sees the recognised text beside the image, corrects it and takes it as the body
(or ignores it). Nothing is filled silently: the form only offers the text.

* ``create`` seals the scan (and, later, its recognised pages) into the blob store with a key
  of its own, derived from the instance's ``scan-draft`` purpose key and the draft's id (no
  letter, so no letter's data key yet), and queues an ``intake.draft`` job for the uploader.
  The job row is the draft's journal: who uploaded it (``created_by_id``), its progress, its
  failure; its payload holds ids and the type only (clear metadata).
* ``run_job`` recognises it page by page in the job runner (outside the request), each page
  sealed and stored before the next, so a killed worker resumes after the last stored page.
* ``status`` / ``scan`` answer the uploader only (``policy.require_own_draft``).
* ``take`` makes it an attachment of the letter being registered: the scan sealed with the
  letter's data key, its text kept as the attachment's extracted text (not recognised again),
  marked as taken as the body when the clerk took it; the draft's files are removed.
* Drafts not taken within ``MAX_AGE`` are removed when the next one is created.
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from records import audit, crypto, policy, sealing
from records.cases.attachments import Upload, add_attachment, clean_document, room_for_one_more, track_blob
from records.cases.filenames import clean_filename
from records.db import new_uid, utcnow
from records.errors import NotFound, ValidationError, XinfangError
from records.instance import Instance, instance_of
from records.jobs import runner as jobs
from records.jobs.models import Job
from records.models import Attachment, OutboxEntry, Record

from . import extract, ocr
from .models import AttachmentText

JOB_KIND = "intake.draft"
PURPOSE = "scan-draft"
#: A draft not taken by a registration within this time is removed.
MAX_AGE = dt.timedelta(days=1)
#: What the form shows of the job's status.
_STATUS = {"queued": "pending", "running": "running", "done": "done", "failed": "failed"}


def register_jobs(registry) -> None:
    registry.register(JOB_KIND, run_job, max_attempts=3)


# -- sealing with the draft's own key -------------------------------------------------------------
def _key(inst: Instance, uid: str) -> bytes:
    return crypto.hkdf(inst.purpose_key(PURPOSE), f"draft:{uid}")


def _seal(inst: Instance, uid: str, field: str, data: bytes) -> bytes:
    return crypto.seal(_key(inst, uid), data, crypto.aad(uid, field))


def _open(inst: Instance, uid: str, field: str) -> bytes:
    return crypto.open_sealed(_key(inst, uid), inst.blobs.get(uid if field == "draft-scan" else _text_uid(uid)),
                              crypto.aad(uid, field))


def _text_uid(uid: str) -> str:
    """The blob of a draft's text: a name derived from the draft's (both 32 hex digits)."""
    return crypto.keyed_hash(b"scan-draft-text", uid.encode(), 16).hex()


def _write_text(inst: Instance, uid: str, stored: dict) -> None:
    inst.blobs.put(_text_uid(uid), _seal(inst, uid, "draft-text", json.dumps(stored, ensure_ascii=False).encode()))


def _read_text(inst: Instance, uid: str) -> dict:
    return json.loads(_open(inst, uid, "draft-text"))


# -- the uploader's side -----------------------------------------------------------------------------
def create(session: Session, upload: Upload, *, by, address: str = "") -> Job:
    """Keep ``upload`` (a PDF or an image) sealed as a draft of ``by`` and queue its recognition."""
    policy.require(by, policy.REGISTER)
    errors: dict = {}
    checked = clean_document(session, upload, errors)
    if checked is None:
        raise ValidationError("The scan cannot be recognised.", fields={"scan": errors["document"]})
    inst = instance_of(session)
    _, mime = checked
    uid = new_uid()
    inst.blobs.put(uid, _seal(inst, uid, "draft-scan", upload.data))
    track_blob(session, uid)
    _write_text(inst, uid, {"filename": clean_filename(upload.filename or "scan"), "pages": [], "method": ""})
    track_blob(session, _text_uid(uid))
    job = jobs.submit(session, JOB_KIND, payload={"draft": uid, "content_type": mime}, by=by,
                      dedupe_key=f"draft:{uid}")
    audit.record(session, "scan_draft.create", actor=by, address=address, detail={"draft": uid, "type": mime})
    purge_stale(session)
    return job


def _job(session: Session, uid, user) -> Job:
    job = None
    if isinstance(uid, str) and len(uid) == 32 and all(c in "0123456789abcdef" for c in uid):
        job = session.execute(select(Job).where(Job.kind == JOB_KIND, Job.dedupe_key == f"draft:{uid}")
                              .order_by(Job.id.desc())).scalars().first()
    if job is None:
        raise NotFound("No such scan draft.")
    policy.require_own_draft(user, job.created_by_id)
    if (job.state or {}).get("taken") or (job.state or {}).get("purged"):
        raise NotFound("No such scan draft.")
    return job


@dataclass
class DraftStatus:
    uid: str
    #: ``pending``, ``running``, ``done`` or ``failed`` (with ``error``).
    status: str
    pages_done: int
    pages_total: int | None
    content_type: str
    error: str | None = None
    #: The recognised text (pages separated by blank lines), once done.
    text: str | None = None
    method: str = ""


def status(session: Session, uid: str, user) -> DraftStatus:
    """How far the recognition of ``uid`` got, and its text when done (for the uploader)."""
    job = _job(session, uid, user)
    state = job.state or {}
    out = DraftStatus(uid=uid, status=_STATUS.get(job.status, job.status),
                      pages_done=max(job.progress_done or 0, state.get("pages_done", 0)),
                      pages_total=job.progress_total or state.get("pages_total"),
                      content_type=job.payload["content_type"])
    if out.status == "failed":
        out.error = state.get("error") or "The recognition stopped without finishing."
    elif out.status == "done":
        stored = _read_text(instance_of(session), uid)
        out.text = "\n\n".join(p for p in stored["pages"] if p)
        out.method = stored.get("method", "")
    return out


def scan(session: Session, uid: str, user) -> tuple[str, bytes]:
    """The draft's scan (type, bytes), for the uploader to see beside its text."""
    job = _job(session, uid, user)
    return job.payload["content_type"], _open(instance_of(session), uid, "draft-scan")


# -- the job ---------------------------------------------------------------------------------------------
def run_job(inst: Instance, ctx) -> None:
    """``intake.draft``: recognise the draft page by page; each page stored (sealed) before the next."""
    uid, mime = ctx.payload["draft"], ctx.payload["content_type"]
    try:
        data = _open(inst, uid, "draft-scan")
    except NotFound:
        return          # taken or removed meanwhile: nothing left to do
    stored = _read_text(inst, uid)
    try:
        doc = extract.open_document(data, mime)
        pages = stored["pages"][:doc.pages]
        stored["method"] = doc.method
        ctx.progress(len(pages), doc.pages)
        for i in range(len(pages), doc.pages):
            page = doc.page(i)
            text = page.text if page.text is not None else ocr.recognise_page(_engine(inst), page.image)
            pages.append(text.strip())
            stored["pages"] = pages
            _write_text(inst, uid, stored)
            ctx.checkpoint({"pages_done": len(pages), "pages_total": doc.pages})
            ctx.progress(len(pages), doc.pages)
        _write_text(inst, uid, stored)
    except extract.ExtractionError as exc:
        ctx.checkpoint({**ctx.state, "error": exc.message})
        raise


def _engine(inst: Instance) -> ocr.Engine:
    if inst.ocr is None:
        raise XinfangError("No OCR engine is configured on this instance (build it with "
                           "app.composition.build_instance).")
    return inst.ocr


# -- at registration -------------------------------------------------------------------------------------
def take(session: Session, record: Record, uid: str, *, by, accepted: bool, address: str = "") -> Attachment:
    """Make draft ``uid`` an attachment of ``record`` (just registered by ``by``): its scan sealed
    with the letter's key; its recognised text, if finished, kept as the attachment's text (marked
    as taken as the body when ``accepted``), else recognised again by intake's usual job."""
    job = _job(session, uid, by)
    problem = room_for_one_more(session, record)
    if problem:
        raise ValidationError(problem, fields={"attachments": "Too many files."})
    inst = instance_of(session)
    mime = job.payload["content_type"]
    stored = _read_text(inst, uid)
    done = job.status == "done"
    att = add_attachment(session, record, Upload(stored["filename"], _open(inst, uid, "draft-scan")), mime,
                         by=by, hooks=not done)
    if done:
        session.flush()
        pages = stored["pages"]
        text_done = any(pages)
        session.add(AttachmentText(
            attachment_id=att.id, record_id=record.id, status="done" if text_done else "empty",
            method=stored.get("method") or "ocr", pages_done=len(pages), pages_total=len(pages),
            pages_sealed=sealing.seal_json(session, record, "attachment-text", pages, att.uid) if pages else None,
            accepted_at=utcnow() if accepted and text_done else None, updated_at=utcnow()))
        session.add(OutboxEntry(record_uid=record.uid, op="index"))
    job.state = {**(job.state or {}), "taken": record.serial}
    audit.record(session, "scan_draft.take", actor=by, target=record.serial, address=address,
                 detail={"draft": uid, "attachment": att.uid, "text_taken_as_body": bool(accepted and done)})
    session.flush()
    _remove(inst, uid)
    return att


def _remove(inst: Instance, uid: str) -> None:
    for name in (uid, _text_uid(uid)):
        inst.blobs.delete(name)


def purge_stale(session: Session, *, now: dt.datetime | None = None) -> int:
    """Remove the files of drafts older than ``MAX_AGE`` that no registration took."""
    cutoff = (now or utcnow()) - MAX_AGE
    old = session.execute(select(Job).where(Job.kind == JOB_KIND, Job.created_at < cutoff)).scalars().all()
    n = 0
    for job in old:
        state = job.state or {}
        if state.get("taken") or state.get("purged") or job.status in ("queued", "running"):
            continue
        _remove(instance_of(session), job.payload["draft"])
        job.state = {**state, "purged": True}
        n += 1
    return n
