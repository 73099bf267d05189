"""The ``jobs`` table: the queue of background work and its journal (state, progress,
checkpoint, error). Payload and state hold clear metadata only (ids, names, counts), never
a letter's text: an intake job names the record, the text stays sealed in it."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from records.db import Base, UTCDateTime, utcnow

STATUSES = ("queued", "running", "done", "failed")
ACTIVE = ("queued", "running")


class Job(Base):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_status_kind", "status", "kind"),
        # one active job per (kind, dedupe key): a second submit returns the first
        Index("ux_jobs_active_dedupe", "kind", "dedupe_key", unique=True,
              sqlite_where=text("status IN ('queued', 'running') AND dedupe_key IS NOT NULL"),
              postgresql_where=text("status IN ('queued', 'running') AND dedupe_key IS NOT NULL")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(10), default="queued")
    record_id: Mapped[int | None] = mapped_column(ForeignKey("records.id"), index=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(120))
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    state: Mapped[dict] = mapped_column(JSON, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    progress_done: Mapped[int] = mapped_column(Integer, default=0)
    progress_total: Mapped[int | None] = mapped_column(Integer)
    progress_note: Mapped[str] = mapped_column(String(200), default="")
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed")
