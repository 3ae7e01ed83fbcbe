"""The chart shapes, written in Altair: built and compiled once per build, in the build's own process.

A shape is everything about a chart but its rows: marks, encodings, scales, axes, sizes, config.
`compile_shapes` builds each shape with Altair (whose schema validates it), turns it into a
Vega-Lite spec and compiles that to Vega with vl-convert, once. The page workers never import
Altair (its import costs about a second per process): they receive the compiled shapes
(`generator.drawing.Shapes`) and fill each with a package's rows (`generator.drawing`).

Rows travel as named datasets (`alt.NamedData`), so a compiled shape holds none and each package's
rows are set on its data entries. What varies per package beyond rows is a scale's domain and range
(a share chart's labels are each package's versions, the social card's height is its largest
value); those scales compile with placeholders that `compile_shapes` checks stay inside the scale,
and the workers set them on the compiled scale.

Every chart is drawn for a phone (its text at 12 px stays at least 11 px in a 343 px column) and
shown at its own size on a desktop.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

import altair as alt
import vl_convert

from generator.chartproc import prepare_renderer
from generator.drawing import (
    CARD_HEIGHT,
    CARD_WIDTH,
    HONEST_LINES,
    HONEST_SCALES,
    Shape,
    Shapes,
    honest_scales,
)
from generator.svg import FONT, INK

WIDTH = 720  # desktop width of the whole SVG, axes and legend included; the page scales it down
HEIGHT = 300  # height of the plotting area of time series
LABEL_LIMIT = 260  # pixels; longer axis labels are truncated with an ellipsis by Vega
SHORT_LABELS = 0
"""The label limit of an axis whose labels are short by construction (month names, "1.5k", "50%"): none.

vl-convert measures a label by shaping its text with the font (about 0.8 ms a label), and a limit
makes Vega measure every label twice, once against the limit and once for its bounds: a fifth of
the time a page's charts took. Such labels are far under LABEL_LIMIT, so the SVG is the same."""
TEXT_LIMIT = 190  # pixels; limit for annotation labels (versions, breaks), at TEXT_SIZE
TEXT_SIZE = 12  # CSS px of chart text drawn at its own size: never under 11 px on a phone or a desktop
NARROW = 300
"""Plot width of every chart: with its axis about 345 px, shown in a phone's 343 px column its 12 px text
stays at least 11 px; a desktop shows it at its own size, two to a row."""

_PLACEHOLDER = "\x00vl-placeholder"
"""Stands in for a filled scale's text values while a shape compiles: a control character no label keeps."""


# --------------------------------------------------------------------------- shared pieces


def _themed(chart: Any, *, text_size: int = 11) -> Any:
    """The config every page chart shares: system font, sentinel ink, no per-mark ARIA text."""
    text = {"labelColor": INK, "titleColor": INK, "labelFont": FONT, "titleFont": FONT}
    return (
        chart.configure(font=FONT)
        .configure_view(stroke=None, continuousWidth=WIDTH, continuousHeight=HEIGHT)
        .configure_axis(
            **text,
            labelFontSize=TEXT_SIZE,
            titleFontSize=TEXT_SIZE,
            titleFontWeight="normal",
            domainColor=INK,
            domainOpacity=0.6,
            tickColor=INK,
            tickOpacity=0.6,
            gridColor=INK,
            gridOpacity=0.12,
            labelLimit=LABEL_LIMIT,
            # Per-axis and per-mark ARIA text would repeat every label and bloat the SVG; the root
            # is role="img" with a <desc>, and the page renders the data as a table.
            aria=False,
        )
        .configure_legend(**text, labelFontSize=12, titleFontSize=12, labelLimit=LABEL_LIMIT, aria=False)
        .configure_title(color=INK, font=FONT, subtitleColor=INK)
        .configure_text(color=INK, font=FONT, fontSize=text_size)
        .configure_mark(aria=False)
    )


def _day_x(field: str, **axis: Any) -> alt.X:
    """A continuous day axis on a UTC scale: the build machine's timezone never moves a day.

    Month names, every other month, as short as "%b"; labels that would touch are dropped.
    """
    return alt.X(
        field,
        type="temporal",
        scale=alt.Scale(type="utc"),
        axis=alt.Axis(
            title=None,
            grid=False,
            labelOverlap="greedy",
            tickCount={"interval": "month", "step": 2},
            formatType="utc",
            format="%b",
            labelLimit=SHORT_LABELS,
            **axis,
        ),
    )


def _count_axis(tick_count: int) -> alt.Axis:
    """An axis of download counts with short SI labels (1.5k, 3M) so plots keep their width on phones.

    A `format` of "~s" would give every tick the largest tick's prefix ("0k"); formatting each
    label on its own avoids that. The expression is a constant, never built from data.
    """
    return alt.Axis(title=None, labelExpr="format(datum.value, '~s')", tickCount=tick_count, labelLimit=SHORT_LABELS)


def _panel_title(text: str) -> alt.TitleParams:
    return alt.TitleParams(text=text, anchor="start", fontSize=TEXT_SIZE, fontWeight="normal", color=INK, offset=6)


def _missing_days(x: alt.X) -> alt.Chart:
    """Light full-height bands on days with no data, so a gap reads as "unknown", never as zero."""
    return alt.Chart(alt.NamedData(name="missing")).mark_rect(color=INK, opacity=0.1).encode(x=x, x2=alt.X2("end"))


# --------------------------------------------------------------------------- the honest number over time


def honest_over_time() -> alt.VConcatChart:
    """Two panels on one day axis: honest installs (daily, 7-day mean, CI-flagged), and all downloads.

    All downloads get their own small panel: on one axis they would flatten the honest lines for a
    package that mirrors fetch far more often than people install it. The key is the page's HTML,
    not an SVG legend, so it never overlaps the plot at any width. A line breaks at a gap (its
    `segment` is a run of consecutive days); a day alone in its run gets a dot, since a line draws
    nothing there. Datasets: `lines` (series, segment, alone), `all`, `missing`, `breaks`; a layer
    whose dataset is empty draws nothing.
    """
    day_x = _day_x("day", labelSeparation=8)
    mid_x = _day_x("mid", labelSeparation=8)
    # Every series; each chart sets the part for the series it has (HONEST_SCALES).
    scales = honest_scales(key for key, *_ in HONEST_LINES)

    def by_series(channel: Any, scale: str) -> Any:
        domain, values = scales[scale]["domain"], scales[scale]["range"]
        # An explicit ordinal scale: Vega-Lite's default for a nominal field on a size channel is a
        # point scale, which spreads its range's ends over the domain (wrong widths; NaN for one line).
        if scale == "strokeWidth":
            return channel(
                "series", type="nominal", scale=alt.Scale(type="ordinal", domain=domain, range=values), legend=None
            )
        return channel("series", type="nominal", scale=alt.Scale(domain=domain, range=values), legend=None)

    color = by_series(alt.Color, "color")
    y = alt.Y("value", type="quantitative", axis=_count_axis(5))
    lines = alt.Chart(alt.NamedData(name="lines"))
    breaks = alt.Chart(alt.NamedData(name="breaks"))
    top = alt.layer(
        _missing_days(day_x),
        lines.mark_line().encode(
            x=mid_x,
            y=y,
            color=color,
            detail=alt.Detail("segment", type="nominal"),
            strokeDash=by_series(alt.StrokeDash, "strokeDash"),
            strokeWidth=by_series(alt.StrokeWidth, "strokeWidth"),
        ),
        lines.mark_point(size=16, filled=True).encode(x=mid_x, y=y, color=color).transform_filter("datum.alone"),
        # Structural breaks: vertical rules, each with a short label written down along it.
        breaks.mark_rule(color=INK, strokeDash=[4, 3], opacity=0.7).encode(x=day_x),
        breaks.mark_text(
            angle=270, align="right", baseline="bottom", dx=-2, dy=-3, limit=TEXT_LIMIT, fontSize=TEXT_SIZE
        ).encode(x=day_x, y=alt.value(0), text=alt.Text("label", type="nominal")),
    ).properties(title=_panel_title("Honest installs per day"), width=NARROW, height=200)
    bottom = alt.layer(
        _missing_days(day_x),
        alt.Chart(alt.NamedData(name="all"))
        .mark_line(color=INK, strokeWidth=1.2)
        .encode(
            x=mid_x,
            y=alt.Y("value", type="quantitative", axis=_count_axis(2)),
            detail=alt.Detail("segment", type="nominal"),
        ),
    ).properties(title=_panel_title("All downloads per day, mirrors and scripts included"), width=NARROW, height=80)
    chart = alt.vconcat(top, bottom, spacing=14).resolve_scale(x="shared")
    return _themed(chart, text_size=TEXT_SIZE).properties(autosize=alt.AutoSizeParams(type="pad"))


# --------------------------------------------------------------------------- shares over time


def share_over_time() -> alt.LayerChart:
    """Each week's counts as shares of the week, stacked to 100%: one band per label, in the labels' order.

    Dataset `shares` (day, label, order, share); the `color` scale's domain (the labels) and range
    (their colours, `drawing.share_color`) are each package's own.
    """
    area = (
        alt.Chart(alt.NamedData(name="shares"))
        .mark_area(opacity=0.85)
        .encode(
            x=_day_x("day"),
            y=alt.Y(
                "share",
                type="quantitative",
                stack="normalize",
                axis=alt.Axis(title=None, format="%", tickCount=3, labelLimit=SHORT_LABELS),
            ),
            color=alt.Color(
                "label",
                type="nominal",
                scale=alt.Scale(domain=[_PLACEHOLDER], range=[_PLACEHOLDER]),
                legend=None,
            ),
            order=alt.Order("order", type="quantitative"),
        )
    )
    chart = alt.layer(area).properties(width=NARROW, height=170, autosize=alt.AutoSizeParams(type="pad"))
    return _themed(chart)


# --------------------------------------------------------------------------- social preview


def social_card() -> alt.LayerChart:
    """A 1200x630 card: the package, its honest number and what it counts, and its 180-day line.

    Datasets `texts` and `big` (text, y, size) and `line` (day, value); the `y` scale's domain is
    0 to the package's largest value. Drawn as a PNG for social sites, on white: not themed.
    """

    def text_layer(data: str, weight: Literal["normal", "bold"]) -> alt.Chart:
        # fontWeight is a mark property in Vega-Lite, not an encoding channel: one layer per weight.
        return (
            alt.Chart(alt.NamedData(name=data))
            .mark_text(align="left", baseline="alphabetic", color="#1b1f24", font=FONT, fontWeight=weight)
            .encode(
                x=alt.value(60),
                y=alt.Y("y", type="quantitative", scale=None),
                text=alt.Text("text", type="nominal"),
                size=alt.Size("size", type="quantitative", scale=None),
            )
        )

    line = (
        alt.Chart(alt.NamedData(name="line"))
        .mark_line(color=HONEST_LINES[0][2], strokeWidth=5)
        .encode(
            x=alt.X("day", type="temporal", scale=alt.Scale(type="utc", range=[60, CARD_WIDTH - 60])),
            y=alt.Y("value", type="quantitative", scale=alt.Scale(domain=[0, 1], range=[580, 330])),
        )
    )
    chart = alt.layer(text_layer("texts", "normal"), text_layer("big", "bold"), line).properties(
        width=CARD_WIDTH, height=CARD_HEIGHT, autosize=alt.AutoSizeParams(type="none"), padding=0
    )
    return chart.configure_view(stroke=None).configure_axis(disable=True)


# --------------------------------------------------------------------------- compiling


def vega_lite(chart: Any, *, background: str | None = None) -> dict[str, Any]:
    """The chart's Vega-Lite spec, validated against the schema by Altair.

    `background: null` (no background at all, so the page shows through) is what vl-convert reads as
    none; Vega-Lite's schema lists colours only, so it is set on the validated spec.
    """
    spec: dict[str, Any] = chart.to_dict(validate=True)
    spec.pop("$schema", None)
    spec["background"] = background
    if background is None:
        spec["config"] = {**spec.get("config", {}), "background": None}
    return spec


def compile_shape(spec: Mapping[str, Any], filled: Mapping[str, Sequence[str]] = {}) -> Shape:
    """Compile a shape's Vega-Lite spec to Vega, and check its per-package parts can be filled there.

    `filled`: scale name → the properties ("domain", "range") each chart sets. Their placeholders
    must come out of the compiler inside that scale only: anywhere else (a label in a longer
    string) a worker could not fill it, and the build stops here, before any page is drawn.
    """
    vega = vl_convert.vegalite_to_vega(dict(spec))
    names = tuple(d["name"] for d in vega["data"] if "source" not in d and "values" not in d)
    scales = {s["name"]: s for s in vega.get("scales", [])}
    for scale, properties in filled.items():
        if scale not in scales or any(p not in scales[scale] for p in properties):
            raise ValueError(f"compiled shape has no scale {scale!r} with {', '.join(properties)}")
    rest = {**vega, "scales": [s for s in vega.get("scales", []) if s["name"] not in filled]}
    if any(_PLACEHOLDER in text for text in _strings(rest)):
        raise ValueError("a filled scale's placeholder was compiled outside its scale")
    return Shape(vega_lite=dict(spec), vega=vega, datasets=names, filled={k: tuple(v) for k, v in filled.items()})


def _strings(node: Any) -> Iterator[str]:
    """Every string in a JSON-like value, keys included."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


@functools.cache
def compile_shapes() -> Shapes:
    """Every chart shape, built in Altair and compiled to Vega: once per build (once per process)."""
    prepare_renderer()
    return Shapes(
        honest=compile_shape(vega_lite(honest_over_time()), {name: ("domain", "range") for name in HONEST_SCALES}),
        share=compile_shape(vega_lite(share_over_time()), {"color": ("domain", "range")}),
        card=compile_shape(vega_lite(social_card(), background="#ffffff"), {"y": ("domain",)}),
    )
