"""Charts as inline SVG: Altair (Vega-Lite) specs rendered at build time by vl-convert.

Pages embed several of these SVGs in one HTML document with no JavaScript and no external
requests, so every SVG is post-processed: ids are namespaced by a per-chart slug, the text and
axis ink becomes `currentColor` (the page's light/dark text colour), a <title>/<desc> pair names
it for assistive technology, and the result is checked against an allowlist before it is returned.

Labels come from user agents and package metadata that anyone can forge, so they only ever travel
as inline data values (never inside Vega expressions) and are cleaned of control characters first.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import re
import tempfile
import threading
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import vl_convert

from generator.categories import CATEGORIES, CATEGORY_COLORS

# The one colour for text, axes, gridlines, totals and "ink" lines. It is a sentinel: nothing else
# uses it, so post-processing can swap it for `currentColor` and the page's CSS colour (light or
# dark scheme) applies. It is a readable dark grey if a spec is ever rendered without that step.
INK = "#303132"
FONT = "system-ui, sans-serif"
WIDTH = 720  # desktop width of the whole SVG, axes and legend included; the page scales it down
HEIGHT = 300  # height of the plotting area of time series
LABEL_LIMIT = 260  # pixels; longer axis labels are truncated with an ellipsis by Vega
TEXT_LIMIT = 190  # pixels; limit for annotation labels (versions, breaks), at TEXT_SIZE
MAX_LABEL_CHARS = 200  # characters kept from any data label before rendering
TEXT_SIZE = 12  # CSS px of chart text drawn at its own size: never under 11 px on a phone or a desktop

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
_CHART_ID_RE = re.compile(r"^[a-z][a-z0-9-]*$")
_NUMBER_RE = re.compile(r"-?\d+\.\d{3,}")
_URL_REF_RE = re.compile(r"url\(\s*#([^)\s]+)\s*\)")

# Elements Vega's SVG renderer emits for the marks used here, plus the title/desc we add. Anything
# else (script, foreignObject, image, a, use, ...) means something went wrong and fails the build.
_ALLOWED_ELEMENTS = frozenset(
    {"svg", "g", "path", "rect", "line", "circle", "text", "tspan", "title", "desc", "defs", "clipPath"}
)
# Attributes that may carry a URL; only same-document fragment references are acceptable there.
_HREF_ATTRIBUTES = frozenset({"href", f"{{{XLINK_NS}}}href"})

# Bidirectional overrides and isolates can make a forged label display as something else.
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@dataclass(frozen=True)
class Chart:
    """A rendered chart: inline SVG plus the text that names and summarises it."""

    svg: str  # inline-ready <svg ...>...</svg> markup, no XML prolog
    title: str
    description: str  # one or two sentences summarising what the chart shows


# --------------------------------------------------------------------------- text and data helpers


def clean_label(text: object, *, max_chars: int = MAX_LABEL_CHARS) -> str:
    """Make a data label safe to render: no control, surrogate or bidi characters, bounded length."""
    kept: list[str] = []
    for char in str(text):
        kind = unicodedata.category(char)
        if kind == "Cc":
            # Tabs and newlines become spaces so words stay apart; NUL and the rest vanish.
            if char in "\t\n\r\x0b\x0c":
                kept.append(" ")
        elif kind in ("Cs", "Co", "Cn") or char in _BIDI_CONTROLS:
            continue
        else:
            kept.append(char)
    cleaned = " ".join("".join(kept).split())
    if len(cleaned) > max_chars:
        cleaned = cleaned[: max_chars - 1] + "…"
    return cleaned


def _unique_labels(labels: Iterable[object]) -> list[str]:
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


def _check_chart_id(chart_id: str) -> None:
    if not isinstance(chart_id, str) or not _CHART_ID_RE.fullmatch(chart_id):
        raise ValueError(f"chart_id must match ^[a-z][a-z0-9-]*$, got {chart_id!r}")


# --------------------------------------------------------------------------- shared Vega-Lite pieces


def base_config() -> dict[str, Any]:
    """Vega-Lite config shared by every chart: system font, transparent background, sentinel ink."""
    text = {"labelColor": INK, "titleColor": INK, "labelFont": FONT, "titleFont": FONT}
    return {
        "background": None,
        "font": FONT,
        "view": {"stroke": None, "continuousWidth": WIDTH, "continuousHeight": HEIGHT},
        "axis": {
            **text,
            "labelFontSize": 12,
            "titleFontSize": 12,
            "titleFontWeight": "normal",
            "domainColor": INK,
            "domainOpacity": 0.6,
            "tickColor": INK,
            "tickOpacity": 0.6,
            "gridColor": INK,
            "gridOpacity": 0.12,
            "labelLimit": LABEL_LIMIT,
            # Per-axis and per-mark ARIA text would repeat every label and bloat the SVG; the root
            # is role="img" with a <desc>, and the page renders the data as a table.
            "aria": False,
        },
        "legend": {**text, "labelFontSize": 12, "titleFontSize": 12, "labelLimit": LABEL_LIMIT, "aria": False},
        "title": {"color": INK, "font": FONT, "subtitleColor": INK},
        "text": {"color": INK, "font": FONT, "fontSize": 11},
        "mark": {"aria": False},
    }


Spec = dict[str, Any]
"""A Vega-Lite spec (or one layer of it) as a plain dict."""


def _with_data(layers: Sequence[Spec | None], datasets: Mapping[str, list[dict[str, Any]]], **props: Any) -> Spec:
    """A layered spec with its rows attached as named datasets.

    Specs are plain dicts: building them through Altair's classes cost ~0.1 s a chart (a third of a
    package page's render time), and the structure is fixed, so its schema validation runs in the
    tests (`validate_spec`), not on every build. Rows travel as named datasets, never inline.
    """
    spec: Spec = {"layer": [layer for layer in layers if layer is not None], **props}
    spec["datasets"] = {name: list(rows) for name, rows in datasets.items()}
    return spec


def validate_spec(spec: Mapping[str, Any]) -> None:
    """Check a spec dict against Altair's Vega-Lite schema (raises on an invalid spec)."""
    import altair as alt  # only the tests validate: importing Altair costs a second per process

    kind = alt.VConcatChart if "vconcat" in spec else alt.LayerChart  # the honest chart is two panels
    kind.from_dict(dict(spec), validate=True)


def _finish(chart: Any) -> Spec:
    """The spec dict with the shared config merged under the chart's own settings.

    `chart` is a spec dict, or anything with Altair's `to_dict()`.
    """
    spec = dict(chart) if isinstance(chart, Mapping) else chart.to_dict()
    config = base_config()
    for key, value in spec.get("config", {}).items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    # Altair's default theme asks for a 300x300 view; the shared sizes win over it.
    config["view"] = {**config["view"], "continuousWidth": WIDTH, "continuousHeight": HEIGHT}
    spec["config"] = config
    spec["background"] = None
    spec.setdefault("autosize", {"type": "fit-x", "contains": "padding"})
    return spec


def _mark(data: str, mark: Spec, encoding: Spec, **extra: Any) -> Spec:
    """One layer: named data, a mark and its encoding."""
    return {"data": {"name": data}, "mark": mark, "encoding": encoding, **extra}


def _day_x(field: str = "day") -> Spec:
    """A continuous day axis on a UTC scale: the build machine's timezone never moves a day."""
    return {
        "field": field,
        "type": "temporal",
        "scale": {"type": "utc"},
        "axis": {"title": None, "grid": False, "labelOverlap": True, "tickCount": 8, "formatType": "utc"},
    }


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


def _missing_layer(missing: frozenset[dt.date], datasets: dict[str, list[dict[str, Any]]]) -> Spec | None:
    """Light full-height bands on days with no data, so a gap reads as "unknown", never as zero."""
    if not missing:
        return None
    datasets["missing"] = [_day_rows(day) for day in sorted(missing)]
    return _mark("missing", {"type": "rect", "color": INK, "opacity": 0.1}, {"x": _day_x(), "x2": {"field": "end"}})


def _annotation_layers(
    name: str,
    rows: Sequence[tuple[dt.date, str]],
    datasets: dict[str, list[dict[str, Any]]],
    *,
    field: str,
    dash: Sequence[int],
) -> list[Spec]:
    """Vertical rules on given days, each with a short label written down along the rule."""
    if not rows:
        return []
    datasets[name] = [{**_day_rows(day), "label": clean_label(label)} for day, label in sorted(rows)]
    rule = _mark(name, {"type": "rule", "color": INK, "strokeDash": list(dash), "opacity": 0.7}, {"x": _day_x(field)})
    text = _mark(
        name,
        {
            "type": "text",
            "angle": 270,
            "align": "right",
            "baseline": "bottom",
            "dx": -2,
            "dy": -3,
            "limit": TEXT_LIMIT,
            "fontSize": TEXT_SIZE,
        },
        {"x": _day_x(field), "y": {"value": 0}, "text": {"field": "label", "type": "nominal"}},
    )
    return [rule, text]


def _segment_rows(values: Mapping[dt.date, float], missing: frozenset[dt.date]) -> list[dict[str, Any]]:
    """Rows for a line broken at gaps: one per day not missing, with its run number and loneliness."""
    segment_of = _segments(values, missing)
    alone = _singletons(segment_of)
    return [
        {**_day_rows(day), "value": values[day], "segment": segment_of[day], "alone": day in alone}
        for day in sorted(segment_of)
    ]


def _count_axis(title: str | None) -> Spec:
    """An axis of download counts with short SI labels (1.5k, 3M) so plots keep their width on phones.

    A `format` of "~s" would give every tick the largest tick's prefix ("0k"); formatting each
    label on its own avoids that. The expression is a constant, never built from data.
    """
    return {"title": title, "labelExpr": "format(datum.value, '~s')", "tickCount": 5}


# --------------------------------------------------------------------------- the honest number over time

NARROW = 300
"""Plot width of every chart: with its axis about 345 px, shown in a phone's 343 px column its 12 px text
stays at least 11 px; a desktop shows it at its own size, two to a row."""
HONEST_COLOR = CATEGORY_COLORS[CATEGORIES[0]]
CI_COLOR = "#D55E00"  # Okabe-Ito vermillion: apart from every category colour

# The lines of the honest chart, in legend order: (key, label, colour, dash, width).
HONEST_LINES: tuple[tuple[str, str, str, tuple[int, ...], float], ...] = (
    ("honest", "Honest installs per day", HONEST_COLOR, (), 1.0),
    ("mean", "7-day mean of honest installs", HONEST_COLOR, (), 2.6),
    ("ci", "CI-flagged installs per day", CI_COLOR, (4, 3), 1.2),
)


@dataclass(frozen=True)
class HonestDay:
    """One held day of the honest chart."""

    day: dt.date
    honest: int
    ci: int | None
    """None when the source has no CI flag."""
    total: int
    honest_mean: float | None


def honest_over_time_spec(
    days: Sequence[HonestDay],
    *,
    missing_days: Sequence[dt.date] = (),
    breaks: Sequence[tuple[dt.date, str]] = (),
    width: int = NARROW,
) -> dict[str, Any]:
    """Two panels on one day axis: honest installs (daily, 7-day mean, CI-flagged), and all downloads.

    All downloads get their own small panel: on one axis they would flatten the honest lines for a
    package that mirrors fetch far more often than people install it. The key is the page's HTML,
    not an SVG legend, so it never overlaps the plot at any width.
    """
    missing = frozenset(missing_days)
    datasets: dict[str, list[dict[str, Any]]] = {}
    values: dict[str, dict[dt.date, float]] = {
        "honest": {d.day: d.honest for d in days},
        "mean": {d.day: round(d.honest_mean, 1) for d in days if d.honest_mean is not None},
        "ci": {d.day: d.ci for d in days if d.ci is not None},
    }
    rows: list[dict[str, Any]] = []
    for key, by_day in values.items():
        for row in _segment_rows(by_day, missing):
            rows.append({**row, "series": key, "segment": f"{key}-{row['segment']}"})
    present = [line for line in HONEST_LINES if values[line[0]]]
    color = {
        "field": "series",
        "type": "nominal",
        "scale": {"domain": [k for k, *_ in present], "range": [c for _, _, c, _, _ in present]},
        "legend": None,
    }
    y = {"field": "value", "type": "quantitative", "axis": _count_axis(None)}
    top_layers: list[Spec | None] = [_missing_layer(missing, datasets)]
    datasets["lines"] = rows
    encoding: Spec = {
        "x": _day_x("mid"),
        "y": y,
        "color": color,
        "detail": {"field": "segment", "type": "nominal"},
        "strokeDash": {
            "field": "series",
            "type": "nominal",
            "scale": {"domain": [k for k, *_ in present], "range": [list(d) or [1, 0] for _, _, _, d, _ in present]},
            "legend": None,
        },
        "strokeWidth": {
            "field": "series",
            "type": "nominal",
            "scale": {"domain": [k for k, *_ in present], "range": [w for *_, w in present]},
            "legend": None,
        },
    }
    top_layers.append(_mark("lines", {"type": "line"}, encoding))
    if any(row["alone"] for row in rows):
        dots = {k: v for k, v in encoding.items() if k not in ("detail", "strokeDash", "strokeWidth")}
        top_layers.append(
            _mark("lines", {"type": "point", "size": 16, "filled": True}, dots, transform=[{"filter": "datum.alone"}])
        )
    top_layers += _annotation_layers("breaks", breaks, datasets, field="day", dash=(4, 3))
    # All downloads: one line, in the page's ink.
    total_rows = _segment_rows({d.day: d.total for d in days}, missing)
    datasets["all"] = total_rows
    bottom_layers: list[Spec | None] = [
        _missing_layer(missing, datasets) if missing else None,
        _mark(
            "all",
            {"type": "line", "color": INK, "strokeWidth": 1.2},
            {
                "x": _day_x("mid"),
                "y": {"field": "value", "type": "quantitative", "axis": {**_count_axis(None), "tickCount": 2}},
                "detail": {"field": "segment", "type": "nominal"},
            },
        ),
    ]
    narrow = width < 600
    # Month names on a day axis, fewer and shorter on a phone; labels that would touch are dropped.
    axis = {"tickCount": {"interval": "month", "step": 2 if narrow else 1}, "format": "%b", "labelSeparation": 8}
    for layer in [*top_layers, *bottom_layers]:
        x = (layer or {}).get("encoding", {}).get("x")
        if x and "axis" in x:
            x["axis"] = {**x["axis"], **axis, "labelOverlap": "greedy"}
    spec: Spec = {
        "vconcat": [
            {
                "title": {"text": "Honest installs per day", **_panel_title()},
                "layer": [layer for layer in top_layers if layer is not None],
                "width": width,
                "height": 200 if narrow else 260,
            },
            {
                "title": {"text": "All downloads per day, mirrors and scripts included", **_panel_title()},
                "layer": [layer for layer in bottom_layers if layer is not None],
                "width": width,
                "height": 80 if narrow else 100,
            },
        ],
        "spacing": 14,
        "resolve": {"scale": {"x": "shared"}},
        "datasets": datasets,
        "config": {
            "axis": {"labelFontSize": TEXT_SIZE, "titleFontSize": TEXT_SIZE},
            "text": {"fontSize": TEXT_SIZE},
        },
    }
    return spec


def _panel_title() -> Spec:
    return {"anchor": "start", "fontSize": TEXT_SIZE, "fontWeight": "normal", "color": INK, "offset": 6}


def honest_over_time(
    days: Sequence[HonestDay],
    *,
    missing_days: Sequence[dt.date] = (),
    breaks: Sequence[tuple[dt.date, str]] = (),
    title: str,
    description: str,
    chart_id: str,
) -> Chart:
    """The honest chart, drawn once at NARROW: a phone shows it at about its own size, a desktop beside its table.

    One drawing rather than a phone's and a desktop's: a second drawing cost as much CPU as the rest of
    the page's charts, and its text is as readable at its own size in a desktop's column.
    """
    spec = honest_over_time_spec(days, missing_days=missing_days, breaks=breaks)
    spec["autosize"] = {"type": "pad"}
    return render_svg(spec, title=title, description=description, chart_id=chart_id)


def sparkline(values: Sequence[tuple[dt.date, float | None]], *, title: str, description: str, chart_id: str) -> Chart:
    """A small line with no text, stretched to its box: the first screen's 180 days of honest installs.

    Drawn here, not by Vega: it has no axes or labels, so a path is all it needs, and it costs nothing.
    A None value (a missing day) breaks the line instead of bridging the gap.
    """
    _check_chart_id(chart_id)
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
    _label_root(root, title=title, description=description, chart_id=chart_id)
    root.set("class", "spark")
    check_safe(root)
    _unqualify(root)
    return Chart(svg=ET.tostring(root, encoding="unicode").replace(" />", "/>"), title=title, description=description)


# --------------------------------------------------------------------------- shares over time

SHARE_COLORS: tuple[str, ...] = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
"""Okabe-Ito, in order; "other" is drawn in faint ink."""


def share_color(index: int, label: str) -> str:
    """The colour of a share chart's series (the page's key uses the same)."""
    return INK if label == "other" else SHARE_COLORS[index % len(SHARE_COLORS)]


def share_over_time_spec(
    weeks: Sequence[tuple[dt.date, Mapping[str, int]]], labels: Sequence[str], *, width: int = NARROW
) -> dict[str, Any]:
    """Each week's counts as shares of the week, stacked to 100%: one band per label, in `labels` order."""
    clean = _unique_labels(labels)
    rows = []
    for end, counts in weeks:
        whole = sum(counts.values())
        if not whole:
            continue
        for order, (label, shown) in enumerate(zip(labels, clean, strict=True)):
            rows.append({"day": end.isoformat(), "label": shown, "order": order, "share": counts.get(label, 0) / whole})
    color = {
        "field": "label",
        "type": "nominal",
        "scale": {"domain": clean, "range": [share_color(i, label) for i, label in enumerate(labels)]},
        "legend": None,
    }
    x = _day_x()
    x["axis"] = {**x["axis"], "tickCount": {"interval": "month", "step": 2}, "format": "%b", "labelOverlap": "greedy"}
    area = _mark(
        "shares",
        {"type": "area", "opacity": 0.85},
        {
            "x": x,
            "y": {
                "field": "share",
                "type": "quantitative",
                "stack": "normalize",
                "axis": {"title": None, "format": "%", "tickCount": 3},
            },
            "color": color,
            "order": {"field": "order", "type": "quantitative"},
        },
    )
    spec = _with_data([area], {"shares": rows}, width=width, height=170)
    spec["config"] = {"axis": {"labelFontSize": TEXT_SIZE}}
    return spec


def share_over_time(
    weeks: Sequence[tuple[dt.date, Mapping[str, int]]],
    labels: Sequence[str],
    *,
    title: str,
    description: str,
    chart_id: str,
) -> Chart:
    """Shares of a dimension's values per week, stacked to 100% (drawn for a phone; desktops show two side by side)."""
    spec = share_over_time_spec(weeks, labels)
    spec["autosize"] = {"type": "pad"}
    return render_svg(spec, title=title, description=description, chart_id=chart_id)


# --------------------------------------------------------------------------- social preview

CARD_WIDTH, CARD_HEIGHT = 1200, 630
"""The og:image size social sites show in full (1.91:1)."""


def social_card_spec(project: str, figure: str, words: str, values: Sequence[tuple[dt.date, float | None]]) -> Spec:
    """A 1200x630 card: the package, its honest number and what it counts, and its 180-day line."""
    texts = [
        {"text": project, "y": 95, "size": 44},
        {"text": words, "y": 280, "size": 34},
    ]
    big = [{"text": figure, "y": 215, "size": 104}]
    line: list[dict[str, Any]] = [{"day": _day_rows(d)["mid"], "value": v} for d, v in values if v is not None]
    top = max((v["value"] for v in line), default=1) or 1

    def text_layer(data: str, weight: str) -> Spec:
        # fontWeight is a mark property in Vega-Lite, not an encoding channel: one layer per weight.
        mark = {"type": "text", "align": "left", "baseline": "alphabetic", "color": "#1b1f24", "font": FONT}
        return _mark(
            data,
            {**mark, "fontWeight": weight},
            {
                "x": {"value": 60},
                "y": {"field": "y", "type": "quantitative", "scale": None},
                "text": {"field": "text", "type": "nominal"},
                "size": {"field": "size", "type": "quantitative", "scale": None},
            },
        )

    layers = [
        text_layer("texts", "normal"),
        text_layer("big", "bold"),
        _mark(
            "line",
            {"type": "line", "color": HONEST_COLOR, "strokeWidth": 5},
            {
                "x": {"field": "day", "type": "temporal", "scale": {"type": "utc", "range": [60, CARD_WIDTH - 60]}},
                "y": {"field": "value", "type": "quantitative", "scale": {"domain": [0, top], "range": [580, 330]}},
            },
        ),
    ]
    spec = _with_data(layers, {"texts": texts, "big": big, "line": line}, width=CARD_WIDTH, height=CARD_HEIGHT)
    spec.update(autosize={"type": "none"}, padding=0, background="#ffffff")
    spec["config"] = {"view": {"stroke": None}, "axis": {"disable": True}}
    return spec


def social_card_png(project: str, figure: str, words: str, values: Sequence[tuple[dt.date, float | None]]) -> bytes:
    """The card as PNG (a social site fetches an image, not inline SVG)."""
    prepare_renderer()
    spec = social_card_spec(clean_label(project), figure, words, values)
    return vl_convert.vegalite_to_png(spec, scale=1, allowed_base_urls=[])


# --------------------------------------------------------------------------- rendering


_FONTS_CONF = """<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig><dir>{dir}</dir></fontconfig>
"""
_WARM_UP: dict[str, Any] = {
    "width": 10,
    "height": 10,
    "marks": [{"type": "text", "encode": {"enter": {"text": {"value": "0"}, "font": {"value": FONT}}}}],
}
_renderer_lock = threading.Lock()
_renderer_ready = False


def prepare_renderer() -> None:
    """Start vl-convert, measuring text with the Liberation Sans it carries, not the machine's fonts.

    vl-convert measures every label (for layout and `labelLimit`) through its font database, which it
    builds once per process from the system's fonts and then its own copy of Liberation Sans. A system
    font is read from its file for every glyph measured: a thousand file opens per chart, four fifths
    of a chart's render time. With an empty font configuration while the database is built (the
    first conversion), only the built-in, in-memory copy is there: charts render about five times
    faster, and their layout no longer depends on which fonts the build machine has. The page still
    asks the reader's browser for `system-ui, sans-serif`. The environment is restored at once.
    Idempotent; the page workers call it when they start.
    """
    global _renderer_ready
    with _renderer_lock:
        if _renderer_ready:
            return
        with tempfile.TemporaryDirectory(prefix="vl-fonts-") as empty:
            conf = os.path.join(empty, "fonts.conf")
            with open(conf, "w", encoding="utf-8") as fh:
                fh.write(_FONTS_CONF.format(dir=empty))
            before = os.environ.get("FONTCONFIG_FILE")
            os.environ["FONTCONFIG_FILE"] = conf
            try:
                vl_convert.vega_to_svg(_WARM_UP, allowed_base_urls=[])  # builds the font database
            finally:
                if before is None:
                    del os.environ["FONTCONFIG_FILE"]
                else:
                    os.environ["FONTCONFIG_FILE"] = before
        _renderer_ready = True


_VEGA_CACHE: dict[str, dict[str, Any]] = {}
_VEGA_CACHE_SIZE = 64
_SLOT = "\x00vl-slot-"
"""Stands in for a scale's domain value while a spec compiles: a control character no label keeps."""


def _to_vega(spec: dict[str, Any]) -> dict[str, Any]:
    """The Vega spec for a Vega-Lite spec, compiled once per chart shape.

    Compiling does not look at the rows (they travel as named datasets, which the compiled spec
    lists as `data` entries with their `values`), so every bar chart on every page shares one
    compiled spec, and only its rows change: a sixth of a chart's render time saved. A scale's
    domain (a share chart's labels: each package's own versions) is left out of the shape too: the
    spec compiles with numbered slots in its place, which are then filled with the labels.
    """
    datasets = spec.get("datasets")
    if not datasets:
        return vl_convert.vegalite_to_vega(spec)
    shape, labels = _slotted({**spec, "datasets": {name: [] for name in datasets}})
    key = json.dumps({**shape, "datasets": sorted(datasets)}, sort_keys=True, default=str)
    compiled = _VEGA_CACHE.get(key)
    if compiled is None:
        if len(_VEGA_CACHE) >= _VEGA_CACHE_SIZE:
            _VEGA_CACHE.clear()
        compiled = vl_convert.vegalite_to_vega(shape)
        _VEGA_CACHE[key] = compiled
    if labels:
        filled = _fill_slots(compiled, labels)
        if filled is None:  # a slot ended up inside a longer string: compile this spec as it is
            filled = vl_convert.vegalite_to_vega({**spec, "datasets": {name: [] for name in datasets}})
        compiled = filled
    data = [
        {**d, "values": datasets[d["name"]]} if d.get("name") in datasets and "values" in d else d
        for d in compiled["data"]
    ]
    return {**compiled, "data": data}


def _slotted(spec: Any) -> tuple[Any, list[str]]:
    """`spec` with every text value of a scale's domain replaced by a numbered slot, and those values."""
    labels: list[str] = []

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            out = {k: walk(v) for k, v in node.items()}
            scale = out.get("scale")
            if isinstance(scale, dict) and isinstance(scale.get("domain"), list):
                domain = []
                for value in scale["domain"]:
                    if isinstance(value, str):
                        domain.append(f"{_SLOT}{len(labels)}")
                        labels.append(value)
                    else:
                        domain.append(value)
                out["scale"] = {**scale, "domain": domain}
            return out
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(spec), labels


def _fill_slots(compiled: Any, labels: Sequence[str]) -> Any | None:
    """The compiled spec with each slot back to its value; None if a slot is part of a longer string."""
    whole = {f"{_SLOT}{i}": label for i, label in enumerate(labels)}
    intact = True

    def walk(node: Any) -> Any:
        nonlocal intact
        if isinstance(node, str):
            if node in whole:
                return whole[node]
            if _SLOT in node:
                intact = False
            return node
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    filled = walk(compiled)
    return filled if intact else None


def render_svg(chart: Any, *, title: str, description: str, chart_id: str) -> Chart:
    """Render a spec with vl-convert and post-process it into safe, namespaced, themeable inline SVG."""
    _check_chart_id(chart_id)
    prepare_renderer()
    spec = _finish(chart)
    # An empty allowlist forbids any data or image fetch, should a spec ever name a URL.
    raw = vl_convert.vega_to_svg(_to_vega(spec), allowed_base_urls=[])
    svg = postprocess_svg(raw, title=title, description=description, chart_id=chart_id)
    return Chart(svg=svg, title=title, description=description)


def postprocess_svg(svg: str, *, title: str, description: str, chart_id: str) -> str:
    """Namespace ids, theme the ink, add title/desc and ARIA, then verify the result is inert."""
    _check_chart_id(chart_id)
    root = ET.fromstring(svg)
    if root.tag != f"{{{SVG_NS}}}svg":
        raise ValueError("not an SVG document")
    _drop_background(root)
    _prefix_ids(root, chart_id)
    _strip_presentational(root)
    for element in root.iter():
        _theme_and_round(element)
    _slim(root)
    _label_root(root, title=title, description=description, chart_id=chart_id)
    check_safe(root)
    _unqualify(root)
    # Markup only: ElementTree escapes ">" in text and attribute values, so " />" ends a tag.
    return ET.tostring(root, encoding="unicode").replace(" />", "/>")


def _unqualify(root: ET.Element) -> None:
    """Write the SVG namespace as the default one (ElementTree would otherwise invent `ns0:`)."""
    uses_xlink = False
    for element in root.iter():
        element.tag = element.tag.rpartition("}")[2]
        for attribute in [a for a in element.attrib if a.startswith(f"{{{XLINK_NS}}}")]:
            element.set("xlink:" + attribute.rpartition("}")[2], element.attrib.pop(attribute))
            uses_xlink = True
    root.set("xmlns", SVG_NS)
    if uses_xlink:
        root.set("xmlns:xlink", XLINK_NS)


def _drop_background(root: ET.Element) -> None:
    """Remove an opaque background rect if Vega drew one; the page's background shows through."""
    for child in list(root):
        if child.tag == f"{{{SVG_NS}}}rect" and child.get("fill") not in (None, "none", "transparent"):
            root.remove(child)


def _prefix_ids(root: ET.Element, chart_id: str) -> None:
    """Prefix every id and every reference to one, so several inline SVGs never collide."""

    def prefixed(name: str) -> str:
        return f"{chart_id}-{name}"

    for element in root.iter():
        for attribute, value in list(element.attrib.items()):
            if attribute == "id":
                element.set(attribute, prefixed(value))
            elif attribute in _HREF_ATTRIBUTES and value.startswith("#"):
                element.set(attribute, "#" + prefixed(value[1:]))
            elif "url(" in value:
                element.set(attribute, _URL_REF_RE.sub(lambda m: f"url(#{prefixed(m.group(1))})", value))


def _strip_presentational(root: ET.Element) -> None:
    """Drop what only matters to Vega's own scenegraph or to interactive renderers.

    Inside a role="img" root, descendants' ARIA is ignored; Vega's class names (`background`,
    `marks`, ...) could match the page's CSS; pointer-events has no use without scripts. Removing
    them cuts a 210-day chart by a fifth. Hidden empty paths go too.
    """
    for parent in list(root.iter()):
        for child in list(parent):
            if child.get("display") == "none":
                parent.remove(child)
                continue
            if "mark-rect" in child.get("class", ""):
                # Adjacent day bars otherwise show anti-aliased hairline seams between them.
                child.set("shape-rendering", "crispEdges")
            for attribute in list(child.attrib):
                if attribute in ("role", "class", "pointer-events") or attribute.startswith("aria-"):
                    del child.attrib[attribute]


# Presentation attributes a child inherits from its <g> (`opacity` is not one: on a group it composites).
_INHERITED = frozenset(
    {
        "fill",
        "fill-opacity",
        "stroke",
        "stroke-opacity",
        "stroke-width",
        "stroke-dasharray",
        "stroke-linecap",
        "font-family",
        "font-size",
        "font-weight",
    }
)
_DEFAULT_ONE = ("opacity", "fill-opacity", "stroke-opacity")


def _slim(root: ET.Element) -> None:
    """Say the same thing in fewer bytes (a 180-day package page carries a dozen charts).

    - `opacity="1"` and friends are the default: dropped.
    - Paths with neither fill nor stroke draw nothing (Vega's group backgrounds, under the root's
      fill="none"): dropped.
    - The font family, which Vega repeats on every text, is said once on the root.
    - Where every child of a group is a <line> (gridlines, ticks) or every child is a <text>
      (axis labels), the inherited attributes they all share move up to the group. Bars and other
      paths keep their own fill: a reader (or a test) can take each bar's colour from the bar.
    """
    parents = {child: parent for parent in root.iter() for child in parent}
    for element in list(root.iter()):
        for attribute in _DEFAULT_ONE:
            if element.get(attribute) == "1":
                del element.attrib[attribute]
        if element.get("transform") == "translate(0,0)":
            del element.attrib["transform"]
        if element.tag == f"{{{SVG_NS}}}line":
            for attribute in ("x1", "y1", "x2", "y2"):
                if element.get(attribute) == "0":
                    del element.attrib[attribute]
        if (
            element.tag == f"{{{SVG_NS}}}path"
            and "fill" not in element.attrib
            and "stroke" not in element.attrib
            and not len(element)
            and _inherited(element, "fill", parents) == "none"
        ):
            parents[element].remove(element)
    for group in reversed(list(root.iter(f"{{{SVG_NS}}}g"))):  # innermost first
        if not len(group) and group in parents:
            parents[group].remove(group)
    texts = list(root.iter(f"{{{SVG_NS}}}text"))
    if texts and all(t.get("font-family") == FONT for t in texts):
        root.set("font-family", FONT)
        for t in texts:
            del t.attrib["font-family"]
    for group in root.iter(f"{{{SVG_NS}}}g"):
        children = list(group)
        if len(children) < 2 or len({c.tag for c in children}) != 1:
            continue
        if children[0].tag not in (f"{{{SVG_NS}}}line", f"{{{SVG_NS}}}text"):
            continue
        shared = dict(children[0].attrib)
        for child in children[1:]:
            shared = {k: v for k, v in shared.items() if child.get(k) == v}
        for attribute, value in shared.items():
            if attribute in _INHERITED and attribute not in group.attrib:
                group.set(attribute, value)
                for child in children:
                    del child.attrib[attribute]


def _inherited(element: ET.Element, attribute: str, parents: Mapping[ET.Element, ET.Element]) -> str | None:
    """The value `element` gets for an inherited attribute: its own, or its nearest ancestor's."""
    node: ET.Element | None = element
    while node is not None:
        if attribute in node.attrib:
            return node.attrib[attribute]
        node = parents.get(node)
    return None


def _theme_and_round(element: ET.Element) -> None:
    """Swap the sentinel ink for currentColor; trim long decimals in geometry."""
    for attribute, value in list(element.attrib.items()):
        if attribute in ("fill", "stroke") and value.lower() == INK:
            element.set(attribute, "currentColor")
        elif attribute in ("d", "transform"):
            # Vega writes coordinates such as 41.2500002464916; two decimals are sub-pixel exact.
            element.set(attribute, _NUMBER_RE.sub(_round_number, value))


def _round_number(match: re.Match[str]) -> str:
    return _rounded(match.group())


@functools.lru_cache(maxsize=8192)
def _rounded(number: str) -> str:
    """A number to two decimals, trailing zeros dropped (a chart repeats its coordinates: cached)."""
    text = f"{float(number):.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _label_root(root: ET.Element, *, title: str, description: str, chart_id: str) -> None:
    """role="img" plus <title>/<desc> as first children, named by aria-labelledby."""
    root.set("role", "img")
    root.set("aria-labelledby", f"{chart_id}-title {chart_id}-desc")
    root.set("class", "chart")
    for attribute in ("aria-roledescription", "aria-label"):
        root.attrib.pop(attribute, None)
    title_el = ET.Element(f"{{{SVG_NS}}}title", {"id": f"{chart_id}-title"})
    title_el.text = clean_label(title, max_chars=500)
    desc_el = ET.Element(f"{{{SVG_NS}}}desc", {"id": f"{chart_id}-desc"})
    desc_el.text = clean_label(description, max_chars=2000)
    root.insert(0, desc_el)
    root.insert(0, title_el)


def check_safe(root: ET.Element) -> None:
    """Raise ValueError unless the SVG is inert: allowlisted elements, no handlers, no external URLs."""
    for element in root.iter():
        namespace, _, name = element.tag.rpartition("}")
        if namespace != "{" + SVG_NS or name not in _ALLOWED_ELEMENTS:
            raise ValueError(f"unexpected element {element.tag!r} in chart SVG")
        for attribute, value in element.attrib.items():
            local = attribute.rpartition("}")[2].lower()
            lowered = value.lower()
            if local.startswith("on") or local == "style":
                raise ValueError(f"unexpected attribute {attribute!r} in chart SVG")
            if attribute in _HREF_ATTRIBUTES and not value.startswith("#"):
                raise ValueError(f"external reference {value!r} in chart SVG")
            if "url(" in lowered and _URL_REF_RE.sub("", value).lower().count("url(") > 0:
                raise ValueError(f"external url() in chart SVG attribute {attribute!r}")
            if "http://" in lowered or "https://" in lowered or "javascript:" in lowered:
                raise ValueError(f"URL in chart SVG attribute {attribute!r}")
