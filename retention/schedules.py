"""Retention periods and due dates.

A batch's year closes at the end of the calendar year (in the office's time zone); a letter
stored for reason R becomes due ``years[R]`` years after that. A batch is due when every
letter on its list is. Configure through ``Settings.retention`` (``XINFANG_RETENTION``), e.g.
``{"default_years": 2, "years": {"unclear_content": 1}}``; periods are whole years >= 0."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from records.errors import ConfigurationError

#: The four reasons of Art 11 for storing a letter (存信).
REASONS = ("concluded_after_rereview", "repeat_already_answered", "no_reference_value", "unclear_content")

DEFAULT_YEARS = 2


@dataclass(frozen=True)
class RetentionPolicy:
    default_years: int = DEFAULT_YEARS
    years: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings) -> "RetentionPolicy":
        conf = settings.retention or {}
        default = conf.get("default_years", DEFAULT_YEARS)
        years = dict(conf.get("years", {}) or {})
        for name, value in [("default_years", default), *years.items()]:
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 100:
                raise ConfigurationError(f"Retention period {name!r} must be a whole number of years (0-100).")
        unknown = set(years) - set(REASONS)
        if unknown:
            raise ConfigurationError(f"Unknown stored reasons in the retention policy: {sorted(unknown)}.")
        return cls(default_years=default, years=years)

    def years_for(self, reason: str) -> int:
        return self.years.get(reason, self.default_years)

    def due_on(self, year: int, reason: str) -> dt.date:
        """First day on which a letter of ``year`` stored for ``reason`` may be destroyed."""
        return dt.date(year + 1 + self.years_for(reason), 1, 1)

    def batch_due_on(self, year: int, reasons) -> dt.date:
        reasons = list(reasons) or [None]
        return max(self.due_on(year, r) if r else dt.date(year + 1 + self.default_years, 1, 1)
                   for r in reasons)

    def table(self) -> dict[str, int]:
        return {r: self.years_for(r) for r in REASONS}


def year_closed(year: int, today: dt.date) -> bool:
    return today >= dt.date(year + 1, 1, 1)


def today_in(settings) -> dt.date:
    return dt.datetime.now(settings.tz).date()
