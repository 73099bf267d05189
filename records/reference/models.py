"""Reference data: the bureau's offices and external units, and region codes."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from records.db import Base, UTCDateTime, utcnow


class Office(Base):
    __tablename__ = "offices"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: The petition office's intake: every new record starts here, every leader oversees it.
    is_intake: Mapped[bool] = mapped_column(Boolean, default=False)
    #: External units (county/district departments) receive transfers; they have no users here.
    is_external: Mapped[bool] = mapped_column(Boolean, default=False)


class Region(Base):
    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
