"""Tables of intake: the extracted text of each attachment (sealed) and the e-mails imported.

Nothing here is clear text of a letter: the text, page by page, is sealed with the record's
data key; an imported e-mail is remembered by a keyed hash of its Message-ID."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from records.db import Base, UTCDateTime, utcnow

#: ``pending`` (queued), ``running``, ``done`` (text kept), ``empty`` (nothing to extract:
#: an image with no text, a type that has none), ``failed`` (a clear ``error``).
TEXT_STATUSES = ("pending", "running", "done", "empty", "failed")


class AttachmentText(Base):
    """The text extracted from one attachment, and how far its extraction got."""

    __tablename__ = "attachment_texts"
    # whether any attachment has text (``operations.any_text``, asked by every search) is one
    # probe, not a scan of every attachment still waiting for its text
    __table_args__ = (Index("ix_attachment_texts_with_pages", "id", sqlite_where=text("pages_sealed IS NOT NULL"),
                            postgresql_where=text("pages_sealed IS NOT NULL")),)

    id: Mapped[int] = mapped_column(primary_key=True)
    attachment_id: Mapped[int] = mapped_column(ForeignKey("attachments.id", ondelete="CASCADE"), unique=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    #: ``text`` (a text layer or a text document), ``ocr`` (recognised), or ``""`` before it ran.
    method: Mapped[str] = mapped_column(String(8), default="")
    pages_done: Mapped[int] = mapped_column(Integer, default=0)
    pages_total: Mapped[int | None] = mapped_column(Integer)
    #: Sealed JSON list of the pages' texts so far (``attachment-text`` bound to the attachment).
    pages_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: What went wrong, in words written by this code (never the document's text).
    error: Mapped[str | None] = mapped_column(Text)
    #: Whether the recognised text was taken as the letter's body by the clerk.
    accepted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class MailImport(Base):
    """An e-mail registered as a letter, by a keyed hash of its Message-ID (duplicates refused)."""

    __tablename__ = "mail_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: HMAC of the normalised Message-ID under the instance's ``mail-id`` purpose key.
    message_token: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    record_id: Mapped[int] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), index=True)
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
