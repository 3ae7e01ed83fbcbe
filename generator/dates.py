"""UTC report dates and windows. Every window is a run of whole UTC days ending on the as-of date."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any


def parse_day(text: str) -> dt.date:
    """Parse YYYY-MM-DD strictly; raise ValueError with a readable message."""
    try:
        if len(text) != 10:
            raise ValueError
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date in the form YYYY-MM-DD") from None


def utc_now() -> dt.datetime:
    """The one clock of the tool (the ledger's times, the budget's month, the default as-of date)."""
    return dt.datetime.now(dt.UTC)


FIRST_REPORT_DAY = dt.date(2016, 1, 1)
"""PyPI's public download table starts in 2016: no report can end before it."""


def check_report_day(day: dt.date) -> dt.date:
    """`day` if it can be a report's as-of date; ValueError saying the allowed range otherwise."""
    latest = utc_today() + dt.timedelta(days=1)
    if not FIRST_REPORT_DAY <= day <= latest:
        raise ValueError(
            f"{day.isoformat()} is outside the days PyPI's download logs cover: give a date from"
            f" {FIRST_REPORT_DAY.isoformat()} (the public table starts in 2016) to {latest.isoformat()}"
            " (tomorrow in UTC)"
        )
    return day


def utc_today() -> dt.date:
    return utc_now().date()


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


@dataclass(frozen=True)
class WindowCoverage:
    """How many of a window's days the store holds: the one meaning of "missing days" for that window.

    A figure summed over a window counts only the days held. When some are missing it is not the
    window's figure, so every place that shows it says so (`qualify`, `note`).
    """

    window: Window
    held: int
    """Days of the window the store holds (a held day with no downloads counts as held)."""

    @property
    def days(self) -> int:
        return self.window.days

    @property
    def missing(self) -> int:
        return self.days - self.held

    @property
    def complete(self) -> bool:
        return self.held >= self.days

    @property
    def empty(self) -> bool:
        return self.held == 0

    def note(self) -> str:
        """ "" when every day is held, else "in the 8 of 30 days held" (or "with none of the 30 days held")."""
        if self.complete:
            return ""
        if self.empty:
            return f"with none of the {self.days} days held"
        return f"in the {self.held} of {self.days} days held"

    def held_text(self) -> str:
        """ "8 of 30 days held"."""
        return f"{self.held} of {self.days} day{'s' if self.days != 1 else ''} held"

    def phrase(self, complete: str) -> str:
        """`complete` ("in the last 30 days") when every day is held, else the note that says how many are."""
        return self.note() or complete

    def qualify(self, figure: str) -> str:
        """ "809 installs" → "809 installs in the 8 of 30 days held"; unchanged when the window is complete."""
        note = self.note()
        return f"{figure} {note}" if note else figure

    def to_json(self) -> dict[str, Any]:
        return {"start": self.window.start.isoformat(), "end": self.window.end.isoformat(), "held": self.held}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> WindowCoverage:
        return cls(Window(parse_day(doc["start"]), parse_day(doc["end"])), int(doc["held"]))


def window_coverage(window: Window, held: Iterable[dt.date]) -> WindowCoverage:
    """The coverage of `window` by the days in `held` (days outside the window are ignored)."""
    return WindowCoverage(window, sum(1 for day in set(held) if day in window))
