"""Calendar quarters and years in the reporting time zone (metrics.md, "Period")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone

QUARTER_LABEL = re.compile(r"^(?P<year>\d{4})Q(?P<quarter>[1-4])$")


def reporting_zone() -> ZoneInfo:
    return ZoneInfo(settings.REPORTING_TIME_ZONE)


@dataclass(frozen=True)
class Quarter:
    year: int
    quarter: int

    @property
    def label(self) -> str:
        return f"{self.year}Q{self.quarter}"

    @property
    def start(self) -> datetime:
        """Local midnight on the quarter's first day, as an aware datetime."""
        return datetime(self.year, 3 * self.quarter - 2, 1, tzinfo=reporting_zone())

    @property
    def end(self) -> datetime:
        """Local midnight on the next quarter's first day (exclusive)."""
        return self.next().start

    def next(self) -> Quarter:
        return Quarter(self.year + self.quarter // 4, self.quarter % 4 + 1)

    def previous(self) -> Quarter:
        return Quarter(self.year - (self.quarter == 1), (self.quarter - 2) % 4 + 1)

    def is_closed(self, as_of: datetime | None = None) -> bool:
        """Closed when its end is at or before the as-of moment."""
        return self.end <= (as_of or timezone.now())

    @classmethod
    def containing(cls, moment: datetime) -> Quarter:
        local = moment.astimezone(reporting_zone())
        return cls(local.year, (local.month - 1) // 3 + 1)

    @classmethod
    def parse(cls, label: str) -> Quarter:
        match = QUARTER_LABEL.match(label)
        if match is None:
            raise ValueError(f"{label!r} is not a quarter such as 2025Q1.")
        return cls(int(match["year"]), int(match["quarter"]))

    @classmethod
    def current(cls) -> Quarter:
        return cls.containing(timezone.now())


@dataclass(frozen=True)
class Year:
    year: int

    @property
    def label(self) -> str:
        return str(self.year)

    @property
    def quarters(self) -> list[Quarter]:
        return [Quarter(self.year, quarter) for quarter in range(1, 5)]

    @property
    def start(self) -> datetime:
        return Quarter(self.year, 1).start

    @property
    def end(self) -> datetime:
        return Quarter(self.year + 1, 1).start

    def previous(self) -> Year:
        return Year(self.year - 1)

    def is_closed(self, as_of: datetime | None = None) -> bool:
        return self.end <= (as_of or timezone.now())


Period = Quarter | Year
YEAR_LABEL = re.compile(r"^\d{4}$")


def period_parse(label: str) -> Period:
    """A period from its label: 2025Q1 for a quarter, 2025 for a year."""
    if YEAR_LABEL.match(label):
        return Year(int(label))
    return Quarter.parse(label)


def period_quarters(period: Period) -> list[Quarter]:
    return period.quarters if isinstance(period, Year) else [period]


def period_last_day(period: Period) -> date:
    """The local date of the period's last day (which weight profile is in force)."""
    return (period.end.astimezone(reporting_zone()) - timedelta(days=1)).date()


def quarter_label(moment: datetime | None) -> str:
    """The reporting quarter of a moment, as stored on events; "" for no moment."""
    return Quarter.containing(moment).label if moment else ""
