"""A static, pypistats.org-compatible JSON API: pure functions from aggregate rows to documents.

Layout (contract: site URLs): `api/packages/<name>/{recent,overall,python_major,python_minor,system}`.
The pypistats client (hugovk/pypistats, `pypistats/__init__.py`) requests exactly
`BASE_URL + "packages/<name>/<endpoint>"` plus an optional query string, so pointing
`pypistats.BASE_URL` at `<site>/api/` makes it read these files.

Every shape and rule below is taken from pypistats.org's own code (psf/pypistats.org):

- `pypistats/views/api.py` (the routes):
  - `recent`: `{"data": {"last_day": N, "last_month": N, "last_week": N}, "package": ..., "type":
    "recent_downloads"}`; `?period=day|week|month` keeps only that key.
  - `overall`: `{"data": [{"category": "with_mirrors"|"without_mirrors", "date": "YYYY-MM-DD",
    "downloads": N}, ...], "package": ..., "type": "overall_downloads"}`, ordered by (category, date);
    `?mirrors=true` / `?mirrors=false` keeps one series, ordered by date.
  - `python_major`, `python_minor`, `system`: the same row shape, `"type": "<name>_downloads"`,
    ordered by (category, date).
  - Flask's `jsonify` sorts keys, hence the key order here.
- `pypistats/tasks/pypi.py` (the daily ETL):
  - mirrors are `installer NOT IN ('bandersnatch', 'z3c.pypimirror', 'Artifactory', 'devpi')`, which
    also drops NULL installers; a non-NULL `details.python` not matching `^[0-9]\\.[0-9]+.{0,}$` is
    dropped from every table (`generator.analysis.pypistats_with_mirrors` / `_without_mirrors`);
  - python_major is `SPLIT(python, '.')[OFFSET(0)]`, python_minor is
    `REGEXP_EXTRACT(python, r'^[0-9]+\\.[0-9]+')` (the store's `python_minor`), system is
    `CASE WHEN system NOT IN ('Windows', 'Linux', 'Darwin') THEN 'other' ELSE system END` (so NULL
    stays NULL); all three over the without-mirrors rows only; NULL is stored as the string "null";
  - `recent` sums the without_mirrors series: day = the as-of date, week = `date > as_of - 7`,
    month = `date > as_of - 30`;
  - rows older than `as_of - 180` days are purged: 181 dates are kept.
  - A day with no downloads has no row (COUNT(*) ... GROUP BY makes none), and so has a day that
    was never loaded. Days missing from our store are therefore simply absent, never zero.

- Where pypistats.org answers 404, no file is written, so the host's 404 applies: `recent` (and
  `recent?period=P`) when the package has no without-mirrors downloads in the period, `overall`
  (and each `mirrors=` form) when the series has no row in the 181 dates; the breakdowns never
  404 (an empty result is `"data": []`).

Static hosts ignore query strings. `variants()` writes the filtered documents under their own
paths (`mirrors/true/overall`, `period/day/recent`, ...) for hosts that can rewrite on a query
parameter (see netlify.toml); elsewhere `overall` returns both series, like pypistats.org without
a `mirrors` parameter.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from generator import dimensions, layout
from generator.analysis import PYPISTATS_RETENTION_DAYS, pypistats_with_mirrors, pypistats_without_mirrors
from generator.dates import Window, last_days, window_coverage
from generator.dimensions import ApiUse, Dimension
from generator.store import AggRow

BREAKDOWN_ENDPOINTS: dict[str, tuple[Dimension, ApiUse]] = {
    use.endpoint: (dim, use) for dim in dimensions.DIMENSIONS for use in dim.api
}
"""Each breakdown endpoint, the dimension it is computed from and how it labels a value."""
ENDPOINTS = ("recent", "overall", *BREAKDOWN_ENDPOINTS)
RECENT_PERIODS = {"day": 1, "week": 7, "month": 30}
MIRRORS = ("true", "false")
DAYS_HELD = "days_held"
"""Our one key beyond pypistats.org's shape: in `recent`, the days held of each period that lacks some."""

Document = dict[str, Any]


def retention_window(as_of: dt.date) -> Window:
    """The 181 dates pypistats.org keeps: as_of - 180 through as_of."""
    return last_days(as_of, PYPISTATS_RETENTION_DAYS)


def _daily(by_day: dict[tuple[str, dt.date], int]) -> list[dict[str, Any]]:
    """Counts per (category, day) as rows ordered by (category, date); zero counts have no row."""
    return [
        {"category": category, "date": day.isoformat(), "downloads": n}
        for (category, day), n in sorted(by_day.items())
        if n
    ]


def _totals(rows: Sequence[AggRow]) -> list[AggRow]:
    return [r for r in rows if r.breakdown == dimensions.TOTAL]


Daily = dict[dt.date, int]


def _total_days(total_rows: Sequence[AggRow], as_of: dt.date) -> tuple[Daily, Daily]:
    """The total rows of the 181 retained dates summed per day: (with mirrors, without mirrors), in one pass
    (`overall`, its variants and every `recent` read them)."""
    window = retention_window(as_of)
    with_mirrors: Daily = defaultdict(int)
    without_mirrors: Daily = defaultdict(int)
    for r in _totals(total_rows):
        if window.start <= r.day <= window.end and pypistats_with_mirrors(r):
            with_mirrors[r.day] += r.downloads
            if pypistats_without_mirrors(r):
                without_mirrors[r.day] += r.downloads
    return with_mirrors, without_mirrors


def _value_days(rows: Sequence[AggRow], dim: Dimension, as_of: dt.date) -> dict[tuple[str | None, dt.date], int]:
    """A breakdown's without-mirrors rows of the retained dates summed per (value, day): once for the
    endpoints that label the same rows (python_major and python_minor)."""
    window = retention_window(as_of)
    sums: dict[tuple[str | None, dt.date], int] = defaultdict(int)
    for r in rows:
        if r.breakdown == dim.name and window.start <= r.day <= window.end and pypistats_without_mirrors(r):
            sums[(r.value, r.day)] += r.downloads
    return sums


def _labelled(sums: dict[tuple[str | None, dt.date], int], label: Callable[[str | None], str]) -> list[dict[str, Any]]:
    labels: dict[str | None, str] = {}
    by_label: dict[tuple[str, dt.date], int] = defaultdict(int)
    for (value, day), n in sums.items():
        if value not in labels:
            labels[value] = label(value)
        by_label[(labels[value], day)] += n
    return _daily(by_label)


def _doc(project: str, kind: str, data: Any) -> Document:
    return {"data": data, "package": project, "type": kind}


def recent(
    project: str,
    total_rows: Sequence[AggRow],
    as_of: dt.date,
    period: str | None = None,
    held: Iterable[dt.date] | None = None,
) -> Document | None:
    """`/recent`: downloads without mirrors in the last 1, 7 and 30 days ending on `as_of`; no dates.

    None where pypistats.org answers 404: its recent table has a row for a period only when the
    package has without-mirrors downloads in it (`update_recent_stats` sums existing rows), and
    `/recent` needs at least one row. `held` are the days the store holds: when a period lacks some,
    `days_held` says how many of its days its figure counts (pypistats.org has no such key).
    """
    return _recent(project, _total_days(total_rows, as_of)[1], as_of, period, held)


def _recent(
    project: str, without_mirrors: Daily, as_of: dt.date, period: str | None, held: Iterable[dt.date] | None
) -> Document | None:
    periods = [period] if period else list(RECENT_PERIODS)
    data = {}
    for name in periods:
        w = last_days(as_of, RECENT_PERIODS[name])  # inside the retained dates
        data[f"last_{name}"] = sum(n for day, n in without_mirrors.items() if w.start <= day <= w.end)
    if not any(data.values()):
        return None
    doc = _doc(project, "recent_downloads", dict(sorted(data.items())))
    if held is not None:
        coverage = {f"last_{name}": window_coverage(last_days(as_of, RECENT_PERIODS[name]), held) for name in periods}
        if not all(c.complete for c in coverage.values()):
            doc[DAYS_HELD] = {key: c.held for key, c in sorted(coverage.items())}
    return dict(sorted(doc.items()))


def overall(project: str, total_rows: Sequence[AggRow], as_of: dt.date, mirrors: bool | None = None) -> Document | None:
    """`/overall`: the daily with_mirrors and without_mirrors series (or one of them) over 181 dates.

    None where pypistats.org answers 404: no row of the asked series in the 181 dates it keeps.
    """
    return _overall_doc(project, _overall_series(total_rows, as_of), mirrors)


Series = dict[bool, list[dict[str, Any]]]
"""`overall`'s two daily series: True → with_mirrors, False → without_mirrors."""


def _overall_series(total_rows: Sequence[AggRow], as_of: dt.date) -> Series:
    return _series(*_total_days(total_rows, as_of))


def _series(with_mirrors: Daily, without_mirrors: Daily) -> Series:
    return {
        True: _daily({("with_mirrors", day): n for day, n in with_mirrors.items()}),
        False: _daily({("without_mirrors", day): n for day, n in without_mirrors.items()}),
    }


def _overall_doc(project: str, series: Series, mirrors: bool | None) -> Document | None:
    data = []
    if mirrors in (None, True):
        data += series[True]
    if mirrors in (None, False):
        data += series[False]
    return _doc(project, "overall_downloads", data) if data else None


def breakdown(project: str, endpoint: str, breakdown_rows: Sequence[AggRow], as_of: dt.date) -> Document:
    """`/python_major`, `/python_minor` or `/system`: without-mirrors rows only, per category and date."""
    dim, use = BREAKDOWN_ENDPOINTS[endpoint]
    return _breakdown_doc(project, endpoint, _value_days(breakdown_rows, dim, as_of), use.label)


def _breakdown_doc(
    project: str, endpoint: str, sums: dict[tuple[str | None, dt.date], int], label: Callable[[str | None], str]
) -> Document:
    return _doc(project, f"{endpoint}_downloads", _labelled(sums, label))


def package_documents(
    project: str,
    as_of: dt.date,
    total_rows: Sequence[AggRow],
    breakdown_rows: Sequence[AggRow],
    breakdowns: Iterable[str],
    held: Iterable[dt.date] | None = None,
) -> dict[str, Document]:
    """Every endpoint's document for one package, by file name under `api/packages/<name>/`.

    A document pypistats.org would answer with 404 is left out, so the host's 404 applies. The
    breakdowns never 404 there (an empty result is `"data": []`), but `breakdowns` are the store
    breakdowns that were fetched, and an endpoint whose breakdown was not fetched is left out: a 404
    is more honest than an empty series.
    """
    held = None if held is None else set(held)
    available = set(breakdowns)
    days = _total_days(total_rows, as_of)  # once for `overall`, `recent` and their variants
    series = _series(*days)
    docs: dict[str, Document | None] = {
        "recent": _recent(project, days[1], as_of, None, held),
        "overall": _overall_doc(project, series, None),
    }
    summed: dict[str, dict[tuple[str | None, dt.date], int]] = {}
    for endpoint, (dim, use) in BREAKDOWN_ENDPOINTS.items():
        if dim.name in available:
            if dim.name not in summed:
                summed[dim.name] = _value_days(breakdown_rows, dim, as_of)
            docs[endpoint] = _breakdown_doc(project, endpoint, summed[dim.name], use.label)
    docs.update(_variants(project, days[1], as_of, held, series))
    return {name: doc for name, doc in docs.items() if doc is not None}


def variants(
    project: str,
    total_rows: Sequence[AggRow],
    as_of: dt.date,
    held: set[dt.date] | None = None,
    series: Series | None = None,
) -> dict[str, Document | None]:
    """The query-string variants, at paths a static host can rewrite to (see netlify.toml).

    `overall?mirrors=true` is `mirrors/true/overall`, `recent?period=day` is `period/day/recent`:
    the parameter's value is a whole path segment, so a rewrite rule can place it. `series` are
    `overall`'s, when the caller has them already.
    """
    days = _total_days(total_rows, as_of)
    return _variants(project, days[1], as_of, held, series if series is not None else _series(*days))


def _variants(
    project: str, without_mirrors: Daily, as_of: dt.date, held: set[dt.date] | None, series: Series
) -> dict[str, Document | None]:
    out: dict[str, Document | None] = {
        f"mirrors/{flag}/overall": _overall_doc(project, series, flag == "true") for flag in MIRRORS
    }
    for period in RECENT_PERIODS:
        out[f"period/{period}/recent"] = _recent(project, without_mirrors, as_of, period, held)
    return out


def dumps(doc: Document) -> str:
    """Serialised as Flask's jsonify does in production: sorted keys, compact, one trailing newline."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True) + "\n"


def documents_for(
    project: str,
    as_of: dt.date,
    rows: Sequence[AggRow],
    capabilities: Iterable[str],
    breakdowns: Iterable[str],
    held: Iterable[dt.date] | None = None,
) -> dict[str, Document]:
    """One package's documents from its rows (totals and breakdowns) and the days the store holds.

    pypistats' breakdowns count without-mirrors rows, so they need the installer on each row: a
    source that only has a breakdown for all installers together (ClickPy) leaves it out.
    """
    caps = frozenset(capabilities)
    fetched = tuple(b for b in breakdowns if f"{b}.by_installer" in caps)
    dims = {d.name for d, _ in BREAKDOWN_ENDPOINTS.values() if d.name in fetched}
    window = retention_window(as_of)
    inside = [r for r in rows if window.start <= r.day <= window.end]
    totals = [r for r in inside if r.breakdown == dimensions.TOTAL]
    breakdown_rows = [r for r in inside if r.breakdown in dims]
    return package_documents(project, as_of, totals, breakdown_rows, fetched, held)


def document_files(project: str, docs: dict[str, Document]) -> list[tuple[str, str]]:
    """(site path, text) of each document."""
    out = []
    for name, doc in docs.items():
        text = dumps(doc)
        out.append((layout.api_document(project, name), text))
        if name in ENDPOINTS:
            # The same document with an extension, for hosts that type files by extension.
            out.append((layout.api_document(project, name, layout.API_EXTENSION), text))
    return out
