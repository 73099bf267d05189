"""Tables of case handling beside the record itself: findings of the investigation."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from records.db import Base, UTCDateTime, utcnow
from typing import TYPE_CHECKING

from records.accounts.models import User

if TYPE_CHECKING:
    from records.models import Record


class Finding(Base):
    """What the investigation found (P1-3, P1-4): the outcome is clear metadata for statistics;
    the corrective action and the evidence notes are sealed with the record's data key."""

    __tablename__ = "findings"

    id: Mapped[int] = mapped_column(primary_key=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), index=True)
    #: ``handling`` (first reply), ``review`` (複查) or ``rereview`` (複核).
    stage: Mapped[str] = mapped_column(String(16))
    #: ``substantiated``, ``partly_substantiated`` or ``not_substantiated``.
    outcome: Mapped[str] = mapped_column(String(24), index=True)
    corrective_action_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    evidence_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: The corrective action's due date, and when (and by whom) it was confirmed carried out.
    action_due_on: Mapped[dt.date | None] = mapped_column()
    action_confirmed_on: Mapped[dt.date | None] = mapped_column()
    action_confirmed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    record: Mapped[Record] = relationship(back_populates="findings")
    created_by: Mapped[User | None] = relationship(lazy="joined", foreign_keys=[created_by_id])
