"""Aggregates for statistics and the duty roster: no record id, no text, no identity."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from records.db import Base, UTCDateTime, utcnow
from records.accounts.models import User


class TermCount(Base):
    """How many letters registered in a month matched a term of the fixed issue vocabulary
    (``stats.TERMS``). An aggregate only: no record id, no text, no identity."""

    __tablename__ = "term_counts"

    #: ``YYYY-MM`` of the (office-local) day the letter was received.
    month: Mapped[str] = mapped_column(String(7), primary_key=True)
    term: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class DutyDay(Base):
    """One person on the duty roster (Art 20) for one day: a leader's reception day
    (``reception``) or a member of staff on duty (``duty``)."""

    __tablename__ = "duty_days"
    __table_args__ = (UniqueConstraint("on", "kind", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    on: Mapped[dt.date] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")
