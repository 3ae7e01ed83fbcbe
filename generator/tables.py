"""The table model: a table's columns and rows, how each cell prints on the page, and the CSV written beside it.

Every table a page shows is also a CSV file with the same rows and columns; data-derived text is
cleaned of control characters on both, and CSV cells that a spreadsheet would run as formulas are
neutralised.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from typing import Any

from generator import layout

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


# -- tables ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    label: str
    kind: str = "text"
    """How the template formats the cell: text, int, signed, pct, date."""


@dataclass(frozen=True)
class Table:
    id: str
    """A slug: the HTML id and the CSV file's stem."""
    caption: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[Any, ...], ...]

    @property
    def csv_name(self) -> str:
        return layout.csv_file(self.id)


def clean_text(value: str) -> str:
    """Strip NUL, control and bidi-override characters from data-derived text (user agents are forged)."""
    return _CONTROL.sub("", value)


def csv_cell(value: Any) -> Any:
    """Neutralise spreadsheet formulas: a text cell starting with = + - @ (or tab/CR) gets a leading '."""
    if isinstance(value, str):
        value = clean_text(value)
        if value[:1] in ("=", "+", "-", "@", "\t", "\r"):
            return "'" + value
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def table_csv(table: Table) -> str:
    """The table as CSV, with the same rows and columns as the HTML table."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow([c.label for c in table.columns])
    for row in table.rows:
        writer.writerow([csv_cell(v) for v in row])
    return buf.getvalue()


def fmt_int(value: int | None) -> str:
    return "–" if value is None else f"{value:,}"


def fmt_signed(value: int) -> str:
    if value == 0:
        return "0"
    return f"+{value:,}" if value > 0 else f"−{abs(value):,}"


def fmt_pct(value: float | None) -> str:
    if value is None:
        return "–"
    pct = value * 100
    if pct != 0 and abs(pct) < 0.1:
        return "<0.1%" if pct > 0 else "−<0.1%"
    text = f"{abs(pct):.1f}%"
    return f"−{text}" if pct < 0 and text != "0.0%" else text


def fmt_day(value: dt.date | None) -> str:
    return "–" if value is None else value.isoformat()


def fmt_cell(value: Any, kind: str) -> str:
    if kind == "int":
        return fmt_int(value)
    if kind == "signed":
        return fmt_signed(value)
    if kind == "pct":
        return fmt_pct(value)
    if kind == "date":
        return fmt_day(value)
    return clean_text(str(value)) if value is not None else "–"
