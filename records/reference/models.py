"""Reference data: the bureau's offices and external units, region codes (GB/T 2260), the
bureau's categories, the official working-day calendar and the bureau's profile (letterhead,
jurisdiction). All of it is data an administrator keeps; rows in use are deactivated, never
deleted."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, ForeignKey, Integer, String, Text, true
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
    #: False once retired: kept for the records that name it, no longer offered.
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    #: The regions an external unit covers (transfers about them are offered to it first).
    regions: Mapped[list[UnitRegion]] = relationship(cascade="all, delete-orphan", lazy="select",
                                                     order_by="UnitRegion.region_code")

    @property
    def region_codes(self) -> list[str]:
        return [r.region_code for r in self.regions]


class UnitRegion(Base):
    """A region an external unit covers."""

    __tablename__ = "unit_regions"

    office_id: Mapped[int] = mapped_column(ForeignKey("offices.id", ondelete="CASCADE"), primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), primary_key=True)


class Region(Base):
    """An administrative division (GB/T 2260). A retired code stays, pointing at its successor,
    so the letters that carry it keep it."""

    __tablename__ = "regions"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    #: Traditional Chinese name (the UI's default script).
    name: Mapped[str] = mapped_column(String(200))
    #: Simplified Chinese name, as the official list spells it.
    name_hans: Mapped[str] = mapped_column(String(200), default="", server_default="")
    #: 1 province, 2 prefecture, 3 county; 0 for a code kept from an older instance.
    level: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    parent_code: Mapped[str | None] = mapped_column(String(12), index=True, default=None)
    #: Set on a retired code: the current code that took it over (its area, at least).
    successor_code: Mapped[str | None] = mapped_column(String(12), default=None)
    #: Set on a retired code: the last edition of the list it was in (e.g. "201904").
    retired_in: Mapped[str | None] = mapped_column(String(8), default=None)

    @property
    def retired(self) -> bool:
        return self.retired_in is not None


class Category(Base):
    """One entry of the bureau's vocabulary of issues; a sub-category has a parent."""

    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Stored on records; stable once used.
    code: Mapped[str] = mapped_column(String(32), unique=True)
    #: Traditional Chinese name.
    name: Mapped[str] = mapped_column(String(200))
    name_hans: Mapped[str] = mapped_column(String(200), default="", server_default="")
    name_en: Mapped[str] = mapped_column(String(200), default="", server_default="")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"), default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    sort_order: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    parent: Mapped[Category | None] = relationship(remote_side=[id], lazy="joined", join_depth=1)


class CalendarYear(Base):
    """A year whose official calendar (the State Council's notice) has been entered."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    #: Where it came from: "chinesecalendar 1.11.0", "import", "admin".
    source: Mapped[str] = mapped_column(String(100))
    entered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class CalendarDay(Base):
    """An exception to Monday-to-Friday: a holiday, or a weekend make-up working day (調休)."""

    __tablename__ = "calendar_days"

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    #: "holiday" or "workday".
    kind: Mapped[str] = mapped_column(String(16))
    #: The holiday it belongs to (國慶節…), as the notice names it.
    name: Mapped[str] = mapped_column(String(100), default="", server_default="")


class BureauProfile(Base):
    """The bureau itself (one row): its letterhead and its jurisdiction."""

    __tablename__ = "bureau_profile"

    id: Mapped[int] = mapped_column(primary_key=True)
    bureau_name: Mapped[str] = mapped_column(String(200))
    issuing_office: Mapped[str] = mapped_column(String(200))
    #: The body above the bureau (上一級管理部門), named on review notices.
    superior_body: Mapped[str] = mapped_column(String(200))
    #: Document number (文號) pattern with {year} and {seq}, e.g. "X科信〔{year}〕{seq}號".
    number_pattern: Mapped[str] = mapped_column(String(100))
    seal_line: Mapped[str] = mapped_column(String(200))
    signature_block: Mapped[str] = mapped_column(Text)
    #: The region code of the bureau's area: what is offered first, what is "outside our area".
    jurisdiction_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), default=None)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class DocumentCounter(Base):
    """Last document number issued per year; incremented inside the issuing transaction."""

    __tablename__ = "document_counters"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer, default=0)
