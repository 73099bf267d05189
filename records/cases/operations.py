"""Services that register, read and correct records. They flush; the unit of work commits.

Each one checks access through ``policy`` and writes its audit entry, so nothing changes
or is read silently."""
from __future__ import annotations

import datetime as dt
import logging
import math
import re
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from records import audit, identity, policy, sealing
from records.reporting import stats
from records.reference.models import Office
from records.reference.vocab import CHANNELS
from records.errors import AccessDenied, CryptoError, Msg, NotFound, ValidationError
from records.instance import instance_of
from records.models import (
    IdentityToken,
    OutboxEntry,
    Record,
    RecordEvent,
    RecordExclusion,
    RecordVersion,
    SerialCounter,
)
from records.reference import categories, regions
from records.accounts.models import User
from records.db import new_uid, utcnow
from records.cases.schemas import RegistrationData, validate_registration
from records.cases import received
from records.cases.attachments import (  # noqa: F401 - attachments are part of registration's interface
    Upload, add_attachment, attach, check_uploads, sniff_type,
)

SERIAL_RE = re.compile(r"^XF-(\d{4})-(\d{6})$")
#: Shown in the ledger instead of the subject of a record whose ciphertext fails to decrypt.
UNREADABLE = "\u26a0"
log = logging.getLogger("xinfang.records")


# -- serials -----------------------------------------------------------------
def allocate_serial(session: Session, year: int) -> tuple[int, str]:
    """Next serial of ``year``, inside the caller's transaction: unique and gap-free because
    the counter row is locked until commit and rolls back with a failed registration."""
    stmt = (update(SerialCounter).where(SerialCounter.year == year)
            .values(last=SerialCounter.last + 1).returning(SerialCounter.last))
    seq = session.execute(stmt).scalar_one_or_none()
    if seq is None:
        try:
            with session.begin_nested():
                session.execute(insert(SerialCounter).values(year=year, last=1))
            seq = 1
        except IntegrityError:  # another transaction created the year's counter first
            seq = session.execute(stmt).scalar_one()
    return seq, f"XF-{year}-{seq:06d}"


# -- registration --------------------------------------------------------------
def _tz(session: Session) -> ZoneInfo:
    return instance_of(session).settings.tz


def _intake_office(session: Session):
    from records.reference.models import Office

    office = session.execute(select(Office).where(Office.is_intake.is_(True))).scalars().first()
    if office is None:
        raise NotFound("No intake office is configured; run 'xinfang init'.")
    return office


def register(session: Session, raw: dict | RegistrationData, *, by: User, uploads: list[Upload] = (),
             address: str = "", confirm_old_date: bool | None = None) -> Record:
    """Register a letter or visit from any channel; returns the new record (flushed).
    ``confirm_old_date``: the clerk's answer when the web form or the API asks to confirm a
    received date more than a year ago (records.cases.received); None: not asked."""
    policy.require(by, policy.REGISTER)
    data = raw if isinstance(raw, RegistrationData) else validate_registration(raw, tz=_tz(session))
    today = dt.datetime.now(_tz(session)).date()
    old = received.long_ago(data.received_at, today, _tz(session))
    received.check_registration(data.received_at, today, _tz(session), confirm_old_date)
    errors = {}
    for name, why in (("region", regions.problem(session, data.region)),
                      ("category", categories.problem(session, data.category))):
        if why:
            errors[name] = why
    responder = by
    if data.first_responder:
        responder = session.execute(select(User).where(User.username == data.first_responder,
                                                       User.active.is_(True))).scalar_one_or_none()
        if responder is None:
            errors["first_responder"] = "No active user of that name."
        elif not policy.may_be_first_responder(responder):
            errors["first_responder"] = "Only a leader or the chief can be named first responder (Art 17)."
    accused = _resolve_accused(session, data.accused, errors)
    if data.complained_unit and session.execute(select(Office.id).where(
            Office.code == data.complained_unit)).scalar_one_or_none() is None:
        errors["complained_unit"] = "No office or unit with that code."
    if any(u.id == by.id for u in accused):
        errors["accused"] = "The letter names you: another member of staff must register it."
    elif responder is not None and any(u.id == responder.id for u in accused):
        errors["first_responder"] = "The first responder cannot be someone the letter complains about."
    if errors:
        raise ValidationError("Some fields are missing or invalid.", fields=errors)
    checked = check_uploads(session, list(uploads))

    local_received = data.received_at.astimezone(_tz(session))
    year = local_received.year
    seq, serial = allocate_serial(session, year)
    record = Record(uid=new_uid(), serial=serial, year=year, seq=seq, channel=data.channel, received_at=data.received_at,
                    region_code=data.region, category=data.category, status="registered",
                    office=_intake_office(session), registered_by_id=by.id,
                    first_responder_id=responder.id, people_count=data.people_count, doc_version=1,
                    complained_unit=data.complained_unit,
                    document_sealed=b"")
    record.excluded_users = []
    could_decide = bool(accused) and _anyone_may_decide(session, record)
    record.excluded_users = [RecordExclusion(user_id=u.id) for u in accused]
    if could_decide and not _anyone_may_decide(session, record):
        raise ValidationError("No one would be left to decide this letter.", fields={"accused": NO_DECIDER})
    session.add(record)
    sealing.new_data_key(session, record)
    record.document_sealed = sealing.seal_json(session, record, "document", data.document(), 1)
    session.flush()
    stats.count_terms(session, record, data.document())  # hot-issue term counters (Art 5): no text kept
    _index_identity(session, record, data.petitioner)
    for up, mime in checked:
        add_attachment(session, record, up, mime, by=by)
    session.add(RecordEvent(record=record, actor_id=by.id, kind="registered", to_status="registered"))
    session.add(OutboxEntry(record_uid=record.uid, op="index"))
    session.flush()
    audit.record(session, "record.register", actor=by, target=serial, address=address,
                 detail={"channel": data.channel, "attachments": len(checked), "people_count": data.people_count,
                         "accused": len(accused), **({"old_received_date": True} if old else {})})
    return record


#: Why a letter naming every decider is refused (issue 15): the office cannot judge its own leadership.
NO_DECIDER = ("The letter names every leader and the chief who could decide it, so no one here may decide "
              "it: a complaint about the whole leadership goes to the superior body (上一級機關). "
              "Send it there, and register here only what the superior body asks.")


def _anyone_may_decide(session: Session, record: Record) -> bool:
    """Is some active member of staff, not on the accused list, able to decide the letter?
    (An accused list that takes the last of them away is refused with ``NO_DECIDER``.)"""
    with session.no_autoflush:
        staff = session.execute(select(User).where(User.active.is_(True))).scalars().all()
    return any(policy.can(u, policy.DECIDE, record) for u in staff)


def _resolve_accused(session: Session, usernames: list[str], errors: dict) -> list[User]:
    if not usernames:
        return []
    found = session.execute(select(User).where(User.username.in_(usernames))).scalars().all()
    missing = [n for n in usernames if n not in {u.username for u in found}]
    if missing:
        errors["accused"] = "No member of staff with the user name: " + ", ".join(missing[:5]) + "."
        return []
    return list(found)


# -- accused staff (被反映人) ------------------------------------------------------------
def accused_of(session: Session, record: Record, user: User) -> list[User]:
    """The staff a record complains about, for those who may manage that list."""
    policy.require(user, policy.EXCLUDE_STAFF, record)
    ids = [x.user_id for x in record.excluded_users]
    if not ids:
        return []
    return list(session.execute(select(User).where(User.id.in_(ids)).order_by(User.username)).scalars())


def exclude(session: Session, record: Record, usernames: list[str], *, by: User, address: str = "") -> int:
    """Name more staff the record complains about; from now on they are refused it. Returns how many were added."""
    policy.require(by, policy.EXCLUDE_STAFF, record)
    errors: dict[str, str] = {}
    from records.cases.schemas import parse_accused

    names = parse_accused(usernames, errors)
    users = _resolve_accused(session, names, errors) if not errors else []
    if not errors and not users:
        errors["accused"] = "Name at least one member of staff."
    if errors:
        raise ValidationError("The exclusion cannot be recorded.", fields=errors)
    have = {x.user_id for x in record.excluded_users}
    new = [u for u in users if u.id not in have]
    could_decide = bool(new) and _anyone_may_decide(session, record)
    for u in new:
        record.excluded_users.append(RecordExclusion(record_id=record.id, user_id=u.id))
    if could_decide and not _anyone_may_decide(session, record):
        raise ValidationError("No one would be left to decide this letter.", fields={"accused": NO_DECIDER})
    session.add(RecordEvent(record_id=record.id, actor_id=by.id, kind="accused_added",
                            from_status=record.status, to_status=record.status))
    session.add(OutboxEntry(record_uid=record.uid, op="index"))  # the index's deny list changes
    session.flush()
    audit.record(session, "record.exclude", actor=by, target=record.serial, address=address,
                 detail={"added": len(new), "user_ids": [u.id for u in new]})
    return len(new)


def lift_exclusion(session: Session, record: Record, username: str, *, by: User, reason: str,
                   address: str = "") -> None:
    """Take a member of staff off the record's accused list (a leader, with a reason kept sealed).
    The accused person can never do this: the policy refuses them the record entirely."""
    policy.require(by, policy.LIFT_EXCLUSION, record)
    errors: dict[str, str] = {}
    from records.cases.schemas import clean_text

    reason = clean_text(reason, "reason", errors, required=True, max_len=500, multiline=True)
    target = session.execute(select(User).where(User.username == username)).scalar_one_or_none() \
        if isinstance(username, str) and len(username) <= 64 else None
    row = next((x for x in record.excluded_users if target is not None and x.user_id == target.id), None)
    if row is None:
        errors["accused"] = "That member of staff is not on this record's list."
    if errors:
        raise ValidationError("The exclusion cannot be lifted.", fields=errors)
    record.excluded_users.remove(row)
    event = RecordEvent(record_id=record.id, actor_id=by.id, kind="accused_lifted",
                        from_status=record.status, to_status=record.status)
    session.add(event)
    session.flush()
    event.note_sealed = sealing.seal_json(session, record, "event-note", reason, event.id)
    session.add(OutboxEntry(record_uid=record.uid, op="index"))
    session.flush()
    audit.record(session, "record.exclusion_lift", actor=by, target=record.serial, address=address,
                 detail={"user_id": target.id})


def _index_identity(session: Session, record: Record, petitioner: dict) -> None:
    session.execute(delete(IdentityToken).where(IdentityToken.record_id == record.id))
    key = instance_of(session).purpose_key("identity")
    for kind, tok in identity.tokens_for(key, petitioner):
        session.add(IdentityToken(record_id=record.id, kind=kind, token=tok))


# -- reading ----------------------------------------------------------------------
def get_record(session: Session, serial: str, user: User, *, address: str = "") -> Record:
    """Load a record the user may at least see in the ledger; anything else is 'not found'.
    An excluded (accused) user's attempt is audited, and the entry survives the rollback."""
    if not isinstance(serial, str) or not SERIAL_RE.match(serial):
        raise NotFound("No such record.")
    record = session.execute(select(Record).where(Record.serial == serial)).scalar_one_or_none()
    if record is None:
        raise NotFound("No such record.")
    if not policy.can(user, policy.VIEW_LEDGER, record):
        if user is not None and policy.is_excluded(user, record):
            raise NotFound("No such record.", audit={
                "action": "record.refused", "actor_id": user.id, "target": serial,
                "detail": {"why": "excluded"}, "address": address})
        raise NotFound("No such record.")
    return record


def document(session: Session, record: Record) -> dict:
    return sealing.open_json(session, record, "document", record.document_sealed, record.doc_version)


@dataclass
class RecordView:
    """What one user may see of one record."""

    record: Record
    can_view_content: bool
    identity_visible: bool
    can_correct: bool
    content: dict | None = None
    petitioner: dict | None = None
    attachments: list[dict] = field(default_factory=list)
    history: list[dict] = field(default_factory=list)


def view(session: Session, record: Record, user: User, *, address: str = "") -> RecordView:
    """Decrypt what ``user`` may read of ``record``; every content read is audited first."""
    can_content = policy.can(user, policy.VIEW_CONTENT, record)
    can_identity = can_content and policy.can(user, policy.VIEW_IDENTITY, record)
    rv = RecordView(record=record, can_view_content=can_content, identity_visible=can_identity,
                    can_correct=policy.can(user, policy.CORRECT_RECORD, record))
    if not can_content:
        return rv
    audit.record(session, "record.read", actor=user, target=record.serial, address=address,
                 detail={"identity": can_identity})
    doc = document(session, record)
    rv.content = {k: doc.get(k, "") for k in ("subject", "body", "notes")}
    rv.petitioner = policy.petitioner_view(doc.get("petitioner", {}), can_identity)
    rv.attachments = [
        {"uid": a.uid, "filename": sealing.open_json(session, record, "attachment-name", a.filename_sealed, a.uid),
         "content_type": a.content_type, "size": a.size, "kind": a.kind, "created_at": a.created_at}
        for a in record.attachments
    ]
    rv.history = [
        {"at": e.at, "kind": e.kind, "actor": e.actor.display_name if e.actor else "",
         "from_status": e.from_status, "to_status": e.to_status,
         "note": sealing.open_json(session, record, "event-note", e.note_sealed, e.id) if e.note_sealed else ""}
        for e in record.events
    ]
    return rv


def attachment_content(session: Session, record: Record, uid: str, user: User, *, address: str = "") -> tuple[dict, bytes]:
    """Decrypt one attachment for download (audited)."""
    policy.require(user, policy.VIEW_CONTENT, record)
    att = next((a for a in record.attachments if a.uid == uid), None)
    if att is None:
        raise NotFound("No such attachment.")
    data = sealing.open_bytes(session, record, "attachment", instance_of(session).blobs.get(att.uid), att.uid)
    name = sealing.open_json(session, record, "attachment-name", att.filename_sealed, att.uid)
    audit.record(session, "attachment.download", actor=user, target=record.serial, address=address,
                 detail={"attachment": att.uid})
    return {"filename": name, "content_type": att.content_type, "size": att.size}, data


def version_document(session: Session, record: Record, version: RecordVersion) -> dict:
    return sealing.open_json(session, record, "document", version.document_sealed, version.version)


def view_version(session: Session, record: Record, version: int, user: User, *, address: str = "") -> tuple[RecordVersion, dict]:
    """An earlier version of the document as ``user`` may see it (identity masked or not); audited."""
    policy.require(user, policy.VIEW_CONTENT, record)
    old = next((v for v in record.versions if v.version == version), None)
    if old is None:
        raise NotFound("No such version.")
    doc = version_document(session, record, old)
    unmasked = policy.can(user, policy.VIEW_IDENTITY, record)
    doc["petitioner"] = policy.petitioner_view(doc.get("petitioner", {}), unmasked)
    audit.record(session, "record.read_version", actor=user, target=record.serial, address=address,
                 detail={"version": version, "identity": unmasked})
    return old, doc


def correct(session: Session, record: Record, changes: dict, *, by: User, reason: str = "",
            address: str = "") -> Record:
    """Correct the registered document; the previous version is kept, sealed, in history."""
    policy.require(by, policy.CORRECT_RECORD, record)
    if changes.get("accused"):
        raise ValidationError("Staff complained about are managed on the record's accused list, not by a correction.",
                              fields={"accused": "Use the record's accused list."})
    changes = {k: v for k, v in changes.items() if k != "accused"}
    old = document(session, record)
    merged = {
        "channel": record.channel,
        "received_at": record.received_at.isoformat(),
        "region": record.region_code,
        "category": record.category,
        "people_count": record.people_count,
        "subject": old.get("subject", ""), "body": old.get("body", ""), "notes": old.get("notes", ""),
        "petitioner": dict(old.get("petitioner", {})),
        "complained_unit": record.complained_unit,
    }
    for k, v in changes.items():
        if k == "petitioner" and isinstance(v, dict):
            merged["petitioner"].update(v)
        else:
            merged[k] = v
    data = validate_registration(merged, tz=_tz(session), now=utcnow() + dt.timedelta(days=1))
    errors = {}
    for name, why in (("region", regions.problem(session, data.region)),
                      ("category", categories.problem(session, data.category, allow_inactive=record.category))):
        if why:
            errors[name] = why
    if data.complained_unit and session.execute(select(Office.id).where(
            Office.code == data.complained_unit)).scalar_one_or_none() is None:
        errors["complained_unit"] = "No office or unit with that code."
    if errors:
        raise ValidationError("Some fields are missing or invalid.", fields=errors)
    if data.received_at.astimezone(_tz(session)).year != record.year:
        raise ValidationError("The date of receipt cannot move to another year (the serial is per year).",
                              fields={"received_at": "Must stay in the same year."})
    session.add(RecordVersion(record_id=record.id, version=record.doc_version,
                              document_sealed=record.document_sealed, replaced_by_id=by.id))
    record.doc_version += 1
    record.document_sealed = sealing.seal_json(session, record, "document", data.document(), record.doc_version)
    record.channel, record.received_at, record.region_code = data.channel, data.received_at, data.region
    record.category, record.people_count = data.category, data.people_count
    record.complained_unit = data.complained_unit
    _index_identity(session, record, data.petitioner)
    session.flush()
    event = RecordEvent(record_id=record.id, actor_id=by.id, kind="corrected",
                        from_status=record.status, to_status=record.status)
    session.add(event)
    session.flush()
    if reason:
        event.note_sealed = sealing.seal_json(session, record, "event-note", reason, event.id)
    session.add(OutboxEntry(record_uid=record.uid, op="index"))
    audit.record(session, "record.correct", actor=by, target=record.serial, address=address,
                 detail={"version": record.doc_version})
    session.flush()
    return record


# -- the ledger (臺帳) ---------------------------------------------------------------
@dataclass
class LedgerFilters:
    channel: str | None = None
    status: str | None = None
    region: str | None = None
    category: str | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    @classmethod
    def parse(cls, args, tz: ZoneInfo | None = None) -> "LedgerFilters":
        errors = {}
        f = cls()
        for name in ("channel", "status", "region", "category"):
            value = args.get(name) or None
            # NUL: no code contains one, and PostgreSQL refuses it even in a comparison
            if value is not None and (not isinstance(value, str) or len(value) > 32 or "\x00" in value):
                errors[name] = "Invalid value."
                continue
            setattr(f, name, value)
        if f.channel and f.channel not in CHANNELS:
            errors["channel"] = "Unknown channel."
        for name in ("date_from", "date_to"):
            value = args.get(name) or None
            if value:
                try:
                    setattr(f, name, dt.date.fromisoformat(value))
                except (TypeError, ValueError):
                    errors[name] = "Use a date like 2026-11-25."
        if f.date_from and f.date_to and f.date_from > f.date_to:
            errors["date_to"] = "Must not be before the start date."
        if errors:
            raise ValidationError("Invalid filter.", fields=errors)
        return f


@dataclass
class Page:
    items: list
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))


def _local_day_start(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(0), tzinfo=tz).astimezone(dt.UTC)


#: The furthest ledger page (an offset beyond it overflows the database's integers).
MAX_PAGE = 100_000


def ledger(session: Session, user: User, filters: LedgerFilters | None = None, *, page: int = 1,
           per_page: int = 25, address: str = "") -> Page:
    """The ledger lines the user may see, newest first. Subjects are decrypted only for rows
    whose content the user may read, and that is audited as one entry."""
    if not policy.holds(user, policy.VIEW_LEDGER):
        raise AccessDenied("You are not allowed to see the ledger.")
    filters = filters or LedgerFilters()
    tz = _tz(session)
    cond = [policy.scope_clause(user, policy.VIEW_LEDGER)]
    if filters.channel:
        cond.append(Record.channel == filters.channel)
    if filters.status:
        cond.append(Record.status == filters.status)
    if filters.region:
        cond.append(Record.region_code == filters.region)
    if filters.category:
        cond.append(Record.category == filters.category)
    if filters.date_from:
        cond.append(Record.received_at >= _local_day_start(filters.date_from, tz))
    if filters.date_to:
        cond.append(Record.received_at < _local_day_start(filters.date_to + dt.timedelta(days=1), tz))
    page = max(1, int(page))
    if page > MAX_PAGE:
        raise ValidationError(f"page: at most {MAX_PAGE}; narrow the filters instead.",
                              fields={"page": Msg("1 to %(n)s.", n=MAX_PAGE)})
    per_page = min(max(1, int(per_page)), 200)
    total = session.execute(select(func.count()).select_from(Record).where(*cond)).scalar_one()
    rows = session.execute(
        select(Record).where(*cond).order_by(Record.received_at.desc(), Record.id.desc())
        .offset((page - 1) * per_page).limit(per_page)
        .options(selectinload(Record.key))
    ).scalars().all()
    items, shown = [], []
    for r in rows:
        subject = None
        if policy.can(user, policy.VIEW_CONTENT, r):
            try:
                subject = document(session, r).get("subject", "")
            except CryptoError:
                # One damaged record must not take the whole ledger down; its own page reports it.
                log.error("record %s could not be decrypted for the ledger", r.serial)
                subject = UNREADABLE
            shown.append(r.serial)
        items.append(LedgerLine(record=r, subject=subject))
    if shown:
        audit.record(session, "ledger.subjects", actor=user, address=address, detail={"serials": shown})
    return Page(items=items, total=total, page=page, per_page=per_page)


@dataclass
class LedgerLine:
    record: Record
    #: The subject, only when the viewer may read the record's content; else None.
    subject: str | None


def ledger_dict(line: LedgerLine, tz: ZoneInfo) -> dict:
    r = line.record
    return {
        "serial": r.serial,
        "received_at": r.received_at.astimezone(tz).isoformat(),
        "channel": r.channel,
        "region": r.region_code,
        "category": r.category,
        "status": r.status,
        "office": r.office.code,
        "people_count": r.people_count,
        "first_responder": r.first_responder.username if r.first_responder else None,
        "subject": line.subject,
    }
