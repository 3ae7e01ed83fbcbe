"""Charts drawn for one package: its rows set into a compiled chart shape, rendered by vl-convert.

The shapes (`generator.charts`, written in Altair) are compiled once per build in the build's own
process; each page worker receives them (`Shapes`, plain Vega specs) when it starts, installs them
with `prepare`, and fills them with each package's rows here. Nothing here imports Altair.

The sparkline has no axes or text, so it is drawn here as a path, without Vega.
"""

from __future__ import annotations

import datetime as dt
import functools
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from generator import chartproc
from generator.categories import CATEGORIES, CATEGORY_COLORS
from generator.chartproc import ChartProcess, prepare_renderer
from generator.svg import (
    INK,
    SVG_NS,
    check_chart_id,
    check_safe,
    clean_label,
    label_root,
    postprocess_svg,
    unqualify,
)

HONEST_COLOR = CATEGORY_COLORS[CATEGORIES[0]]
CI_COLOR = "#D55E00"  # Okabe-Ito vermillion: apart from every category colour

# The lines of the honest chart, in legend order: (key, label, colour, dash, width).
HONEST_LINES: tuple[tuple[str, str, str, tuple[int, ...], float], ...] = (
    ("honest", "Honest installs per day", HONEST_COLOR, (), 1.0),
    ("mean", "7-day mean of honest installs", HONEST_COLOR, (), 2.6),
    ("ci", "CI-flagged installs per day", CI_COLOR, (4, 3), 1.2),
)

SHARE_COLORS: tuple[str, ...] = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
"""Okabe-Ito, in order; "other" is drawn in faint ink."""

CARD_WIDTH, CARD_HEIGHT = 1200, 630
"""The og:image size social sites show in full (1.91:1)."""

Rows = list[dict[str, Any]]


class Chart:
    """A rendered chart: inline SVG plus the text that names and summarises it.

    Its SVG may still be being drawn by the chart process (generator.chartproc): reading `svg` waits for
    it, and post-processes it, once."""

    def __init__(self, svg: str | Callable[[], str], title: str, description: str) -> None:
        self._svg = svg
        self.title = title
        self.description = description  # one or two sentences summarising what the chart shows

    @property
    def svg(self) -> str:
        """Inline-ready <svg ...>...</svg> markup, no XML prolog."""
        if not isinstance(self._svg, str):
            self._svg = self._svg()
        return self._svg


@dataclass(frozen=True)
class Shape:
    """One chart shape, compiled: everything but a package's rows and its filled scales."""

    vega_lite: dict[str, Any]
    """The Vega-Lite spec it was compiled from (what a page charting in the browser would ship)."""
    vega: dict[str, Any]
    """The compiled Vega spec; its named data entries have no values."""
    datasets: tuple[str, ...]
    """The named datasets a chart fills with rows."""
    filled: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Scale name → the properties (domain, range) a chart sets: a package's own labels or extent."""


@dataclass(frozen=True)
class Shapes:
    """Every Vega-drawn chart of a package page (picklable: sent to each page worker once)."""

    honest: Shape
    share: Shape
    card: Shape


def fill(shape: Shape, datasets: Mapping[str, Rows], scales: Mapping[str, Mapping[str, Any]] = {}) -> dict[str, Any]:
    """The shape's Vega spec with a chart's rows in its datasets and its values in its filled scales."""
    if set(datasets) != set(shape.datasets) or {k: tuple(v) for k, v in scales.items()} != shape.filled:
        raise ValueError(f"a chart of this shape fills datasets {shape.datasets} and scales {shape.filled}")
    vega = dict(shape.vega)
    vega["data"] = [{**d, "values": datasets[d["name"]]} if d["name"] in datasets else d for d in vega["data"]]
    if scales:
        vega["scales"] = [{**s, **scales[s["name"]]} if s["name"] in scales else s for s in vega["scales"]]
    return vega


# --------------------------------------------------------------------------- the renderer, once per process

_shapes: Shapes | None = None
_elsewhere: ChartProcess | None = None


def prepare(shapes: Shapes, elsewhere: ChartProcess | None = None) -> None:
    """Install the build's compiled chart shapes in this process, and start vl-convert here, or draw the
    charts in `elsewhere` (generator.chartproc) from now on.

    A page worker calls it once, when it starts, with the shapes the build compiled.
    """
    global _shapes, _elsewhere
    if elsewhere is None:
        prepare_renderer()
    _shapes = shapes
    _elsewhere = elsewhere


def draw_here() -> None:
    """Draw this process's charts here again (the chart process given to `prepare` has been closed)."""
    global _elsewhere
    _elsewhere = None


def _installed() -> Shapes:
    if _shapes is None:
        raise RuntimeError("chart shapes not prepared: call drawing.prepare(charts.compile_shapes()) first")
    return _shapes


def render_svg(vega: dict[str, Any], *, title: str, description: str, chart_id: str) -> Chart:
    """Render a filled Vega spec and post-process it into safe, namespaced, themeable inline SVG."""
    check_chart_id(chart_id)
    if _elsewhere is not None:
        drawn = _elsewhere.submit(chartproc.SVG, vega)
        return Chart(
            lambda: postprocess_svg(drawn.result().decode(), title=title, description=description, chart_id=chart_id),
            title,
            description,
        )
    svg = postprocess_svg(chartproc.draw_svg(vega), title=title, description=description, chart_id=chart_id)
    return Chart(svg, title, description)


# --------------------------------------------------------------------------- rows


def unique_labels(labels: Iterable[object]) -> list[str]:
    """Clean labels and make them distinct, since a nominal axis merges equal values into one band."""
    seen: dict[str, int] = {}
    result: list[str] = []
    for raw in labels:
        label = clean_label(raw) or "(empty)"
        count = seen.get(label, 0) + 1
        seen[label] = count
        result.append(label if count == 1 else f"{label} ({count})")
    return result


def _segments(days: Iterable[dt.date], missing: frozenset[dt.date]) -> dict[dt.date, int]:
    """Number runs of consecutive present days, so a line is broken (not bridged) across gaps."""
    segment_of: dict[dt.date, int] = {}
    segment = 0
    previous: dt.date | None = None
    for day in sorted(set(days) - missing):
        if previous is not None and (day - previous).days != 1:
            segment += 1
        segment_of[day] = segment
        previous = day
    return segment_of


def _singletons(segment_of: Mapping[dt.date, int]) -> set[dt.date]:
    """Days that are alone in their run: a line draws nothing there, so they need a point."""
    sizes: dict[int, int] = {}
    for segment in segment_of.values():
        sizes[segment] = sizes.get(segment, 0) + 1
    return {day for day, segment in segment_of.items() if sizes[segment] == 1}


def _day_rows(day: dt.date) -> dict[str, str]:
    """A day's band on the time axis: from its UTC midnight to the next, and its middle.

    Vega parses date-only ISO strings, and ones ending in Z, as UTC.
    """
    return dict(_day_texts(day))  # a copy: callers put it in a spec as it is


@functools.lru_cache(maxsize=2048)
def _day_texts(day: dt.date) -> dict[str, str]:
    """`_day_rows`, once per day (every series of every chart repeats the same few hundred days)."""
    return {
        "day": day.isoformat(),
        "end": (day + dt.timedelta(days=1)).isoformat(),
        "mid": f"{day.isoformat()}T12:00:00Z",
    }


def _segment_rows(values: Mapping[dt.date, float], missing: frozenset[dt.date]) -> Rows:
    """Rows for a line broken at gaps: one per day not missing, with its run number and loneliness."""
    segment_of = _segments(values, missing)
    alone = _singletons(segment_of)
    return [
        {**_day_rows(day), "value": values[day], "segment": segment_of[day], "alone": day in alone}
        for day in sorted(segment_of)
    ]


# --------------------------------------------------------------------------- the honest number over time


@dataclass(frozen=True)
class HonestDay:
    """One held day of the honest chart."""

    day: dt.date
    honest: int
    ci: int | None
    """None when the source has no CI flag."""
    total: int
    honest_mean: float | None


HONEST_SCALES = ("color", "strokeDash", "strokeWidth")
"""The honest chart's scales by series: each chart has the series it has data for."""


def honest_scales(series: Iterable[str]) -> dict[str, dict[str, list[Any]]]:
    """The honest chart's HONEST_SCALES for the given series (keys of HONEST_LINES), in HONEST_LINES order."""
    wanted = set(series)
    lines = [line for line in HONEST_LINES if line[0] in wanted]
    keys = [key for key, *_ in lines]
    ranges: dict[str, list[Any]] = {
        "color": [color for _, _, color, _, _ in lines],
        "strokeDash": [list(dash) or [1, 0] for _, _, _, dash, _ in lines],
        "strokeWidth": [width for *_, width in lines],
    }
    return {name: {"domain": list(keys), "range": ranges[name]} for name in HONEST_SCALES}


def honest_datasets(
    days: Sequence[HonestDay],
    *,
    missing_days: Sequence[dt.date] = (),
    breaks: Sequence[tuple[dt.date, str]] = (),
) -> tuple[dict[str, Rows], dict[str, dict[str, list[Any]]]]:
    """The honest chart's rows (its lines broken at missing days, all downloads, gaps and breaks), and
    its series scales: only the series it has (a source with no CI flag has no CI line)."""
    missing = frozenset(missing_days)
    values: dict[str, dict[dt.date, float]] = {
        "honest": {d.day: d.honest for d in days},
        "mean": {d.day: round(d.honest_mean, 1) for d in days if d.honest_mean is not None},
        "ci": {d.day: d.ci for d in days if d.ci is not None},
    }
    lines: Rows = []
    for key, by_day in values.items():
        for row in _segment_rows(by_day, missing):
            lines.append({**row, "series": key, "segment": f"{key}-{row['segment']}"})
    datasets = {
        "missing": [_day_rows(day) for day in sorted(missing)],
        "lines": lines,
        "breaks": [{**_day_rows(day), "label": clean_label(label)} for day, label in sorted(breaks)],
        "all": _segment_rows({d.day: d.total for d in days}, missing),
    }
    return datasets, honest_scales(key for key, by_day in values.items() if by_day)


def honest_over_time(
    days: Sequence[HonestDay],
    *,
    missing_days: Sequence[dt.date] = (),
    breaks: Sequence[tuple[dt.date, str]] = (),
    title: str,
    description: str,
    chart_id: str,
) -> Chart:
    """The honest chart (`charts.honest_over_time`), drawn once for a phone: a desktop shows it beside its table.

    One drawing rather than a phone's and a desktop's: a second drawing cost as much CPU as the rest of
    the page's charts, and its text is as readable at its own size in a desktop's column.
    """
    datasets, scales = honest_datasets(days, missing_days=missing_days, breaks=breaks)
    vega = fill(_installed().honest, datasets, scales)
    return render_svg(vega, title=title, description=description, chart_id=chart_id)


def sparkline(values: Sequence[tuple[dt.date, float | None]], *, title: str, description: str, chart_id: str) -> Chart:
    """A small line with no text, stretched to its box: the first screen's 180 days of honest installs.

    Drawn here, not by Vega: it has no axes or labels, so a path is all it needs, and it costs nothing.
    A None value (a missing day) breaks the line instead of bridging the gap.
    """
    check_chart_id(chart_id)
    width, height, pad = 360.0, 60.0, 3.0
    known = [v for _, v in values if v is not None]
    top = max(known, default=0) or 1
    step = width / max(len(values) - 1, 1)
    parts: list[str] = []
    pen_down = False
    for i, (_, v) in enumerate(values):
        if v is None:
            pen_down = False
            continue
        x = i * step
        y = height - pad - (height - 2 * pad) * (v / top)
        parts.append(f"{'L' if pen_down else 'M'}{x:.1f} {y:.1f}")
        pen_down = True
    root = ET.Element(
        f"{{{SVG_NS}}}svg",
        {"viewBox": f"0 0 {width:g} {height:g}", "preserveAspectRatio": "none", "width": "100%", "height": "60"},
    )
    baseline = {"d": f"M0 {height - pad:g}H{width:g}", "stroke": "currentColor", "stroke-opacity": "0.3"}
    ET.SubElement(root, f"{{{SVG_NS}}}path", {**baseline, "vector-effect": "non-scaling-stroke"})  # zero
    ET.SubElement(
        root,
        f"{{{SVG_NS}}}path",
        {
            "d": " ".join(parts),
            "fill": "none",
            "stroke": HONEST_COLOR,
            "stroke-width": "2",
            "vector-effect": "non-scaling-stroke",
            "stroke-linejoin": "round",
        },
    )
    label_root(root, title=title, description=description, chart_id=chart_id)
    root.set("class", "spark")
    check_safe(root)
    unqualify(root)
    return Chart(ET.tostring(root, encoding="unicode").replace(" />", "/>"), title, description)


# --------------------------------------------------------------------------- shares over time


def share_color(index: int, label: str) -> str:
    """The colour of a share chart's series (the page's key uses the same)."""
    return INK if label == "other" else SHARE_COLORS[index % len(SHARE_COLORS)]


def share_datasets(
    weeks: Sequence[tuple[dt.date, Mapping[str, int]]], labels: Sequence[str]
) -> tuple[dict[str, Rows], dict[str, dict[str, list[str]]]]:
    """Each week's counts as shares of the week, in `labels` order; and the colour scale's labels and colours."""
    clean = unique_labels(labels)
    rows = []
    for end, counts in weeks:
        whole = sum(counts.values())
        if not whole:
            continue
        for order, (label, shown) in enumerate(zip(labels, clean, strict=True)):
            rows.append({"day": end.isoformat(), "label": shown, "order": order, "share": counts.get(label, 0) / whole})
    colors = [share_color(i, label) for i, label in enumerate(labels)]
    return {"shares": rows}, {"color": {"domain": clean, "range": colors}}


def share_over_time(
    weeks: Sequence[tuple[dt.date, Mapping[str, int]]],
    labels: Sequence[str],
    *,
    title: str,
    description: str,
    chart_id: str,
) -> Chart:
    """Shares of a dimension's values per week, stacked to 100% (`charts.share_over_time`)."""
    datasets, scales = share_datasets(weeks, labels)
    vega = fill(_installed().share, datasets, scales)
    return render_svg(vega, title=title, description=description, chart_id=chart_id)


# --------------------------------------------------------------------------- social preview


def card_datasets(
    project: str, figure: str, words: str, values: Sequence[tuple[dt.date, float | None]]
) -> tuple[dict[str, Rows], dict[str, dict[str, list[float]]]]:
    """The social card's texts and line, and its y scale: 0 to the line's highest value."""
    known = [(d, v) for d, v in values if v is not None]
    line: Rows = [{"day": _day_rows(d)["mid"], "value": v} for d, v in known]
    top = max((v for _, v in known), default=1) or 1
    texts = [{"text": project, "y": 95, "size": 44}, {"text": words, "y": 280, "size": 34}]
    big = [{"text": figure, "y": 215, "size": 104}]
    return {"texts": texts, "big": big, "line": line}, {"y": {"domain": [0, top]}}


def social_card_png(project: str, figure: str, words: str, values: Sequence[tuple[dt.date, float | None]]) -> bytes:
    """The card (`charts.social_card`) as PNG: a social site fetches an image, not inline SVG."""
    datasets, scales = card_datasets(clean_label(project), figure, words, values)
    vega = fill(_installed().card, datasets, scales)
    if _elsewhere is not None:
        return _elsewhere.submit(chartproc.PNG, vega).result()
    return chartproc.draw_png(vega)
