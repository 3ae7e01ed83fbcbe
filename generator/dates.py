"""UTC report dates and windows. Every window is a run of whole UTC days ending on the as-of date."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass


def parse_day(text: str) -> dt.date:
    """Parse YYYY-MM-DD strictly; raise ValueError with a readable message."""
    try:
        if len(text) != 10:
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date in the form YYYY-MM-DD") from None


def utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def default_as_of() -> dt.date:
    """Yesterday in UTC: the last complete day of PyPI's logs."""
    return utc_today() - dt.timedelta(days=1)


@dataclass(frozen=True)
class Window:
    """An inclusive range of UTC days."""

    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def __contains__(self, day: object) -> bool:
        return isinstance(day, dt.date) and self.start <= day <= self.end

    def __iter__(self) -> Iterator[dt.date]:
        return (self.start + dt.timedelta(days=i) for i in range(self.days))

    def label(self) -> str:
        return f"{self.start.isoformat()} to {self.end.isoformat()}"


def last_days(as_of: dt.date, n: int) -> Window:
    """The last `n` UTC days ending on `as_of` (n=30 is pypistats.org's "month")."""
    return Window(as_of - dt.timedelta(days=n - 1), as_of)


def contiguous_ranges(days: list[dt.date]) -> list[Window]:
    """Group sorted, distinct days into maximal runs of consecutive days."""
    out: list[Window] = []
    for day in sorted(set(days)):
        if out and day == out[-1].end + dt.timedelta(days=1):
            out[-1] = Window(out[-1].start, day)
        else:
            out.append(Window(day, day))
    return out
