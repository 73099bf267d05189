"""Retention schema: (region, year) batches of stored letters, holds, destruction runs with
their per-letter journal, the residual metadata of destroyed letters, and certificates.

Nothing here holds letter content: serials, dates, reasons, ids and digests only."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from records.db import Base
from records.accounts.models import User
from records.db import UTCDateTime, utcnow

#: Batch states, in order. ``certified`` batches may be proposed again for letters that
#: survived a run (held, excluded, or stored after the list was approved).
BATCH_STATES = ("open", "sealed", "proposed", "approved", "destroyed", "certified")


class Batch(Base):
    """The stored letters of one region and one year of receipt, under one batch key."""

    __tablename__ = "retention_batches"
    __table_args__ = (UniqueConstraint("region_code", "year"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    year: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16), default="open", index=True)
    #: Generation of the batch key in the key store; bumped when survivors of a run are
    #: re-wrapped so that the old key can be destroyed with the letters it protected.
    key_generation: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    sealed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    sealed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    proposed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    destroyed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    certified_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: How many rounds of destruction this batch went through (a certificate each).
    rounds: Mapped[int] = mapped_column(Integer, default=0)

    sealed_by: Mapped[User | None] = relationship(foreign_keys=[sealed_by_id], lazy="joined")
    proposed_by: Mapped[User | None] = relationship(foreign_keys=[proposed_by_id], lazy="joined")
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id], lazy="joined")

    @property
    def label(self) -> str:
        return f"{self.region_code}/{self.year}"

    @property
    def key_ref(self) -> str:
        return f"batch:{self.id}.{self.key_generation}"


class BatchLetter(Base):
    """A stored letter's place in its batch. Outlives the letter (record_id becomes NULL)."""

    __tablename__ = "retention_batch_letters"
    __table_args__ = (Index("ix_retention_batch_letters_batch_state", "batch_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("retention_batches.id"), index=True)
    record_id: Mapped[int | None] = mapped_column(ForeignKey("records.id", ondelete="SET NULL"), unique=True)
    serial: Mapped[str] = mapped_column(String(20), unique=True)
    stored_reason: Mapped[str] = mapped_column(String(32))
    received_on: Mapped[dt.date] = mapped_column(Date)
    stored_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: ``member`` (in the batch), ``listed`` (on the proposed/approved destruction list),
    #: ``excluded`` (kept by a leader's decision), ``destroyed``, ``withdrawn`` (no longer stored).
    state: Mapped[str] = mapped_column(String(16), default="member")
    excluded_reason: Mapped[str | None] = mapped_column(String(500))
    excluded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    excluded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    batch: Mapped[Batch] = relationship(lazy="joined")
    excluded_by: Mapped[User | None] = relationship(foreign_keys=[excluded_by_id], lazy="joined")


class Hold(Base):
    """A hold on one letter (by serial) or a whole batch; blocks destruction until lifted."""

    __tablename__ = "retention_holds"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("retention_batches.id"), index=True)
    serial: Mapped[str | None] = mapped_column(String(20), index=True)
    reason: Mapped[str] = mapped_column(String(500))
    placed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    placed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    lifted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    lifted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    lift_reason: Mapped[str | None] = mapped_column(String(500))

    batch: Mapped[Batch | None] = relationship(lazy="joined")
    placed_by: Mapped[User] = relationship(foreign_keys=[placed_by_id], lazy="joined")
    lifted_by: Mapped[User | None] = relationship(foreign_keys=[lifted_by_id], lazy="joined")

    @property
    def active(self) -> bool:
        return self.lifted_at is None


class DestructionRun(Base):
    """One execution of an approved destruction list; resumable from its journal."""

    __tablename__ = "retention_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("retention_batches.id"), index=True)
    #: prepared → deleted → purged → key_destroyed → compacted → certified
    phase: Mapped[str] = mapped_column(String(16), default="prepared")
    started_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: Who approved and who proposed the list this run executes (copied: the batch moves on).
    proposed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: Key generation destroyed at the end of this run (letters it protected are gone).
    old_key_generation: Mapped[int] = mapped_column(Integer)
    letters: Mapped[int] = mapped_column(Integer, default=0)
    skipped_held: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=1)

    batch: Mapped[Batch] = relationship(lazy="joined")
    started_by: Mapped[User | None] = relationship(foreign_keys=[started_by_id], lazy="joined")
    proposed_by: Mapped[User | None] = relationship(foreign_keys=[proposed_by_id], lazy="joined")
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id], lazy="joined")

    @property
    def finished(self) -> bool:
        return self.phase == "certified"


class RunStep(Base):
    """The journal: one row per letter of a run. ``pending`` → ``deleted`` (rows gone, in one
    transaction) → ``done`` (blob files gone). Fingerprints are SHA-256 digests of ciphertext
    windows and blind tokens, kept to prove afterwards that none survives anywhere."""

    __tablename__ = "retention_run_steps"
    __table_args__ = (Index("ix_retention_run_steps_run_state", "run_id", "state"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("retention_runs.id"), index=True)
    batch_letter_id: Mapped[int] = mapped_column(ForeignKey("retention_batch_letters.id"))
    record_id: Mapped[int] = mapped_column(Integer)
    serial: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    #: JSON: attachment uids (blob names; random, not content) to remove after the rows.
    blobs: Mapped[str] = mapped_column(Text, default="[]")
    #: JSON list of [tag, length, sha256-hex] (see ``residue``).
    fingerprints: Mapped[str] = mapped_column(Text, default="[]")
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class DestroyedLetter(Base):
    """Residual metadata of a destroyed letter, kept permanently."""

    __tablename__ = "retention_destroyed_letters"

    id: Mapped[int] = mapped_column(primary_key=True)
    serial: Mapped[str] = mapped_column(String(20), unique=True)
    region_code: Mapped[str] = mapped_column(String(12), index=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    stored_reason: Mapped[str] = mapped_column(String(32))
    received_on: Mapped[dt.date] = mapped_column(Date)
    stored_on: Mapped[dt.date] = mapped_column(Date)
    destroyed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    batch_id: Mapped[int] = mapped_column(ForeignKey("retention_batches.id"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("retention_runs.id"), index=True)
    certificate_id: Mapped[int | None] = mapped_column(ForeignKey("retention_certificates.id"))


class Certificate(Base):
    """A destruction certificate: the JSON exactly as issued, and its digest."""

    __tablename__ = "retention_certificates"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Public number, e.g. ``DC-2029-0001``.
    number: Mapped[str] = mapped_column(String(32), unique=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("retention_batches.id"), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("retention_runs.id"), unique=True)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    letters: Mapped[int] = mapped_column(Integer)
    residue_clean: Mapped[bool] = mapped_column(Boolean)
    manifest_sha256: Mapped[str] = mapped_column(String(64))
    #: SHA-256 of ``body`` (the canonical JSON), also written to the audit trail.
    sha256: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)

    batch: Mapped[Batch] = relationship(lazy="joined")
