"""The record and what belongs to it: its data key, versions, events, exclusions,
attachments, identity tokens, and the audit chain and index outbox. Clear metadata in
columns; everything a person wrote or said is sealed (AES-256-GCM) in ``*_sealed`` columns
with the record's own data key.

Each feature keeps its tables beside it (``accounts.models``, ``reference.models``,
``cases.models``, ``reporting.models``); they are imported here because the record names
them, so importing this module registers every table on ``Base.metadata``."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, event, false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from records.accounts.models import User
from records.cases.models import Finding
from records.db import Base, UTCDateTime, new_uid, utcnow
from records.jobs.models import Job  # noqa: F401 - registers the jobs table
from records.intake.models import AttachmentText, MailImport  # noqa: F401 - registers intake's tables
from records.reference.models import Office, Region
from records.reporting.models import DutyDay, TermCount

__all__ = ["Base", "DutyDay", "Finding", "Office", "Region", "TermCount", "User"]


class SerialCounter(Base):
    """Last serial number issued per year; incremented inside the registering transaction."""

    __tablename__ = "serial_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Record(Base):
    """One registered letter or visit."""

    __tablename__ = "records"
    __table_args__ = (
        UniqueConstraint("year", "seq"),
        # the ledger's order, newest first: a page is read from the index, without sorting
        # the letters that share a received time (a day's post registered at midnight)
        Index("ix_records_received_at_id", "received_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Random id bound into every ciphertext's associated data and blob name.
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    serial: Mapped[str] = mapped_column(String(20), unique=True)
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(16), index=True)
    received_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    category: Mapped[str] = mapped_column(String(32), index=True)
    status: Mapped[str] = mapped_column(String(32), index=True, default="registered")
    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id"), index=True)
    registered_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    #: 首問責任人 (Art 17): the first leader or staff member who received the matter.
    first_responder_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    people_count: Mapped[int] = mapped_column(Integer, default=1)
    stored_reason: Mapped[str | None] = mapped_column(String(32))
    repeat_of_id: Mapped[int | None] = mapped_column(ForeignKey("records.id"), index=True)
    #: Sealed JSON document: subject, body, petitioner, notes.
    document_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    doc_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    office: Mapped[Office] = relationship(lazy="joined")
    region: Mapped[Region] = relationship(lazy="joined")
    registered_by: Mapped[User] = relationship(foreign_keys=[registered_by_id], lazy="joined")
    first_responder: Mapped[User | None] = relationship(foreign_keys=[first_responder_id], lazy="joined")
    key: Mapped["RecordKey"] = relationship(back_populates="record", cascade="all, delete-orphan",
                                            uselist=False, passive_deletes=True)
    attachments: Mapped[list["Attachment"]] = relationship(
        back_populates="record", cascade="all, delete-orphan", passive_deletes=True,
        order_by="Attachment.id")
    events: Mapped[list["RecordEvent"]] = relationship(
        back_populates="record", cascade="all, delete-orphan", passive_deletes=True,
        order_by="RecordEvent.id")
    versions: Mapped[list["RecordVersion"]] = relationship(
        back_populates="record", cascade="all, delete-orphan", passive_deletes=True,
        order_by="RecordVersion.version")
    excluded_users: Mapped[list["RecordExclusion"]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, lazy="selectin")

    # -- the life of the matter (records/workflow.py); dates are the office's local dates --
    #: When the acceptance decision (accept, answer, decline, store) was taken, and by whom.
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: Why it was not accepted: ``outside_authority`` or the legal channel (``litigation``…).
    decision_reason: Mapped[str | None] = mapped_column(String(32))
    accepted_on: Mapped[dt.date | None] = mapped_column()
    #: The leader whose approval (呈閱/批示) the acceptance and routing carry.
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: Date of the last assignment or transfer: the 5-working-day return window runs from it.
    routed_on: Mapped[dt.date | None] = mapped_column()
    #: Code of the external unit (an ``Office`` with ``is_external``) the matter was transferred to.
    transferred_unit: Mapped[str | None] = mapped_column(String(32))
    #: Conclusion due date (acceptance + 60 days, plus the extension); fixed when set.
    due_on: Mapped[dt.date | None] = mapped_column(index=True)
    extended_days: Mapped[int | None] = mapped_column(Integer)
    extended_on: Mapped[dt.date | None] = mapped_column()
    extension_approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    replied_on: Mapped[dt.date | None] = mapped_column()
    #: The day the petitioner received the written reply: the review window runs from it.
    reply_received_on: Mapped[dt.date | None] = mapped_column()
    review_requested_on: Mapped[dt.date | None] = mapped_column()
    review_due_on: Mapped[dt.date | None] = mapped_column()
    review_replied_on: Mapped[dt.date | None] = mapped_column()
    review_reply_received_on: Mapped[dt.date | None] = mapped_column()
    rereview_requested_on: Mapped[dt.date | None] = mapped_column()
    rereview_due_on: Mapped[dt.date | None] = mapped_column()
    #: Set once the next level has answered the re-review (複核): the matter is final (Art 11).
    rereview_replied_on: Mapped[dt.date | None] = mapped_column()
    rereview_reply_received_on: Mapped[dt.date | None] = mapped_column()
    concluded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # -- round two (issue 16): reviews above us, extensions asked for, matters handed down --
    #: The superior body the petitioner asked for review (複查), and its outcome (upheld/changed/revoked).
    review_body: Mapped[str | None] = mapped_column(String(200))
    review_outcome: Mapped[str | None] = mapped_column(String(16))
    #: The document number (文號) of the superior body's review decision.
    review_document_number: Mapped[str | None] = mapped_column(String(64))
    rereview_body: Mapped[str | None] = mapped_column(String(200))
    rereview_outcome: Mapped[str | None] = mapped_column(String(16))
    rereview_document_number: Mapped[str | None] = mapped_column(String(64))
    #: Code of the subordinate unit whose decision this matter asks us to review (30 days to answer).
    review_of_unit: Mapped[str | None] = mapped_column(String(32))
    #: Art 4: why the petitioner is within the bureau's remit, recorded at acceptance.
    remit: Mapped[str | None] = mapped_column(String(32))
    #: Art 15: an extension the handling office asked for, awaiting the overseeing leader.
    extension_requested_days: Mapped[int | None] = mapped_column(Integer)
    extension_requested_on: Mapped[dt.date | None] = mapped_column()
    extension_requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: 交辦件: the higher body that handed the matter down, its document number and its own deadline.
    handed_down_by: Mapped[str | None] = mapped_column(String(200))
    handed_down_number: Mapped[str | None] = mapped_column(String(64))
    handed_down_due_on: Mapped[dt.date | None] = mapped_column(index=True)
    report_back_required: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    reported_back_on: Mapped[dt.date | None] = mapped_column()
    #: 重大信訪案件 (Art 5): flagged by a leader; under the chief's oversight.
    major_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
    major_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: Sealed JSON list of a collective visit's representatives (at most 5).
    representatives_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: 息訪 (Art 17): the day the petitioner stopped petitioning; apart from the matter's conclusion.
    petitioning_ceased_on: Mapped[dt.date | None] = mapped_column()
    #: Code of the office or unit the letter complains about (named at registration), for statistics.
    complained_unit: Mapped[str | None] = mapped_column(String(32), index=True)
    #: The written reply the handler is composing (sealed), saved as a draft; cleared when issued.
    reply_draft_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    reply_draft_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    reply_draft_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])
    extension_approved_by: Mapped[User | None] = relationship(foreign_keys=[extension_approved_by_id])
    findings: Mapped[list["Finding"]] = relationship(
        back_populates="record", cascade="all, delete-orphan", passive_deletes=True, order_by="Finding.id")


class RecordKey(Base):
    """The record's data key, wrapped by a master key version (or later a batch key)."""

    __tablename__ = "record_keys"

    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), primary_key=True)
    #: Which key wraps it, e.g. ``master:1``.
    wrapped_by: Mapped[str] = mapped_column(String(64), index=True)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    rewrapped_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    record: Mapped[Record] = relationship(back_populates="key")


class RecordVersion(Base):
    """A previous version of a record's document, kept sealed when it is corrected."""

    __tablename__ = "record_versions"
    __table_args__ = (UniqueConstraint("record_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    document_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    replaced_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    replaced_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    record: Mapped[Record] = relationship(back_populates="versions")
    replaced_by: Mapped[User] = relationship(lazy="joined")


class RecordEvent(Base):
    """One step in a record's life (registration, correction, transitions), with a sealed note."""

    __tablename__ = "record_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str | None] = mapped_column(String(32))
    note_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)

    record: Mapped[Record] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship(lazy="joined")


class RecordExclusion(Base):
    """A member of staff the letter complains about (被反映人): refused everything on it."""

    __tablename__ = "record_exclusions"

    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)


class Attachment(Base):
    __tablename__ = "attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), index=True)
    #: Sniffed from the content, not taken from the upload's claim.
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    #: The original file name, sealed (a name can carry the petitioner's name).
    filename_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    #: What kind of document: ``scan`` (registered with the letter), ``reply``, ``notice``…
    kind: Mapped[str] = mapped_column(String(32), default="scan")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    record: Mapped[Record] = relationship(back_populates="attachments")


class IdentityToken(Base):
    """Keyed blind index of a petitioner identifier (ID number, phone, name) for look-ups."""

    __tablename__ = "identity_tokens"
    __table_args__ = (Index("ix_identity_tokens_kind_token", "kind", "token"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    token: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditEntry(Base):
    """Append-only, hash-chained audit entry. Details hold ids and counts, never letter text."""

    __tablename__ = "audit_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(100), default="")
    detail: Mapped[str] = mapped_column(Text, default="{}")
    address: Mapped[str] = mapped_column(String(64), default="")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """One row: the chain's last link; updating it serialises appends on every database."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))


class OutboxEntry(Base):
    """Index work written in the same transaction as the record change; drained by one writer."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_uid: Mapped[str] = mapped_column(String(32), index=True)
    #: ``index`` (add or replace) or ``delete``.
    op: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


def _give_uid(target, args, kwargs) -> None:
    """Set the random uid at construction, not at flush: it is bound into ciphertexts at once."""
    if kwargs.get("uid") is None:
        target.uid = new_uid()


event.listen(Record, "init", _give_uid)
event.listen(Attachment, "init", _give_uid)
