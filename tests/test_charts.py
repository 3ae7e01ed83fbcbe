"""Charts render with the real vl-convert into inert, namespaced, themeable inline SVG."""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import altair as alt
import pytest
import vl_convert

from generator import chartproc, charts, drawing
from generator.svg import INK, MAX_LABEL_CHARS, SVG_NS, check_safe, clean_label, postprocess_svg

SVG = "{http://www.w3.org/2000/svg}"
ROOT = Path(__file__).resolve().parent.parent
START = dt.date(2025, 1, 1)

HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "</svg><svg onload=alert(1)>",
    "a & b ]]> <!-- c -->",
    "https://evil.example/x.png",
]
# Element names Vega may emit for these charts (the module's own allowlist is checked separately).
EXPECTED_ELEMENTS = {"svg", "g", "path", "rect", "line", "circle", "text", "tspan", "title", "desc", "defs", "clipPath"}
EXPECTED_URLS = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}


def day(offset: int) -> dt.date:
    return START + dt.timedelta(days=offset)


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def texts(svg: str) -> list[str]:
    """Every run of text inside <text> elements, as a browser would read it."""
    return ["".join(el.itertext()) for el in parse(svg).iter(f"{SVG}text")]


def ids(svg: str) -> list[str]:
    return [el.get("id") for el in parse(svg).iter() if el.get("id") is not None]


# --------------------------------------------------------------------------- fixtures: one render each


@pytest.fixture(scope="module", autouse=True)
def shapes() -> drawing.Shapes:
    """The chart shapes compiled as a build compiles them (in Altair), installed as a page worker does."""
    compiled = charts.compile_shapes()
    drawing.prepare(compiled)
    return compiled


MISSING = [day(3), day(4), day(9)]
# Labels that reach a chart from forgeable data: hostile markup, control characters, a very long name.
LABELS = HOSTILE + ["pip\x00\x07\u202e", "x" * 500]


def honest_days(n: int = 14, *, ci: int | None = 10) -> list[drawing.HonestDay]:
    return [
        drawing.HonestDay(day(i), 100 + i, ci, 400 + i, 100.0 + i if i >= 3 else None)
        for i in range(n)
        if day(i) not in MISSING
    ]


@pytest.fixture(scope="module")
def honest() -> drawing.Chart:
    # Break labels are drawn as text along their rules: each forged label becomes one.
    return drawing.honest_over_time(
        honest_days(),
        missing_days=MISSING,
        breaks=[(day(i), label) for i, label in enumerate(LABELS)],
        title='Honest installs of "pkg" <all>',
        description="Daily & a 7-day mean.",
        chart_id="honest",
    )


SHARE_LABELS = ["1.0", "2.0", "other"]
WEEKS = [(day(7 * i), {"1.0": 3 + i, "2.0": 1 + 2 * i, "other": 2}) for i in range(4)]


@pytest.fixture(scope="module")
def share() -> drawing.Chart:
    return drawing.share_over_time(WEEKS, SHARE_LABELS, title="Versions", description="Shares.", chart_id="share-1")


@pytest.fixture(scope="module")
def spark() -> drawing.Chart:
    values = [(day(i), None if day(i) in MISSING else float(i)) for i in range(14)]
    return drawing.sparkline(values, title="Last 180 days", description="d", chart_id="spark")


@pytest.fixture(scope="module")
def vega_charts(honest, share) -> dict[str, drawing.Chart]:
    """The charts drawn by Vega and post-processed (the sparkline is drawn directly)."""
    return {"honest": honest, "share-1": share}


@pytest.fixture(scope="module")
def all_charts(vega_charts, spark) -> dict[str, drawing.Chart]:
    return {**vega_charts, "spark": spark}


# --------------------------------------------------------------------------- structure and accessibility


def test_every_chart_is_valid_inline_svg_with_title_desc_and_role(all_charts):
    for chart_id, chart in all_charts.items():
        assert chart.svg.startswith("<svg"), "no XML prolog, inline-ready"
        root = parse(chart.svg)
        assert root.tag == f"{SVG}svg"
        assert root.get("role") == "img"
        assert root.get("aria-labelledby") == f"{chart_id}-title {chart_id}-desc"
        first, second = list(root)[:2]
        assert (first.tag, first.get("id"), first.text) == (f"{SVG}title", f"{chart_id}-title", chart.title)
        assert (second.tag, second.get("id"), second.text) == (f"{SVG}desc", f"{chart_id}-desc", chart.description)
        # A viewBox lets CSS `max-width:100%; height:auto` scale it down to a phone.
        assert re.fullmatch(r"0 0 \d+ \d+", root.get("viewBox", ""))


def test_title_text_is_escaped(honest):
    assert '<title id="honest-title">Honest installs of "pkg" &lt;all&gt;</title>' in honest.svg
    assert "Daily &amp; a 7-day mean." in honest.svg


@pytest.mark.parametrize("bad", ["", "1chart", "Chart", "a_b", "a b", 'a"b', "a/b", "ä", "a\n"])
@pytest.mark.parametrize(
    "draw",
    [
        lambda chart_id: drawing.sparkline([(day(0), 1.0)], title="t", description="d", chart_id=chart_id),
        lambda chart_id: drawing.share_over_time(WEEKS, SHARE_LABELS, title="t", description="d", chart_id=chart_id),
        lambda chart_id: postprocess_svg(
            '<svg xmlns="http://www.w3.org/2000/svg"/>', title="t", description="d", chart_id=chart_id
        ),
    ],
    ids=["sparkline", "render_svg", "postprocess_svg"],
)
def test_chart_id_is_validated(draw, bad):
    with pytest.raises(ValueError, match="chart_id"):
        draw(bad)


@pytest.mark.parametrize("shape", [charts.honest_over_time, charts.share_over_time, charts.social_card])
def test_shapes_are_valid_vega_lite(shape) -> None:
    spec = charts.vega_lite(shape())  # Altair validates against the Vega-Lite schema
    assert "datasets" not in spec, "a shape holds no rows"


def test_an_invalid_shape_fails_the_build() -> None:
    with pytest.raises(alt.utils.schemapi.SchemaValidationError, match="invalid value for `strokeWidth`"):
        charts.vega_lite(alt.Chart(alt.NamedData(name="x")).mark_line(strokeWidth="wide"))


# --------------------------------------------------------------------------- ids


def test_ids_are_prefixed_and_unique_across_charts():
    # clip=True makes Vega emit a clipPath with an id and a url(#...) reference to it.
    chart = alt.Chart(alt.Data(values=[{"a": "x", "n": 5}])).mark_bar(clip=True).encode(x="a:N", y="n:Q")
    vega = charts.compile_shape(charts.vega_lite(chart)).vega
    one = drawing.render_svg(vega, title="t", description="d", chart_id="one")
    two = drawing.render_svg(vega, title="t", description="d", chart_id="two")
    one_ids, two_ids = ids(one.svg), ids(two.svg)
    assert len(one_ids) > 2, "expected a clipPath id besides title and desc"
    assert [i for i in one_ids if not i.startswith("one-")] == []
    assert [i for i in two_ids if not i.startswith("two-")] == []
    assert not set(one_ids) & set(two_ids)
    assert len(set(one_ids)) == len(one_ids)
    refs = re.findall(r"url\(#([^)]+)\)", one.svg)
    assert refs, "expected url(#…) references to the clipPath"
    assert set(refs) - set(one_ids) == set()


def test_postprocess_prefixes_every_kind_of_reference():
    raw = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="10" '
        'height="10" viewBox="0 0 10 10"><defs><clipPath id="clip1"><rect width="5" height="5"/></clipPath>'
        '</defs><g clip-path="url(#clip1)"><path d="M0,0h1.23456v2Z" fill="url(#clip1)"/></g>'
        '<path href="#clip1" d="M0,0"/><path xlink:href="#clip1" d="M0,0"/></svg>'
    )
    svg = postprocess_svg(raw, title="t", description="d", chart_id="pfx")
    assert set(ids(svg)) == {"pfx-title", "pfx-desc", "pfx-clip1"}
    assert svg.count("url(#pfx-clip1)") == 2
    assert 'href="#pfx-clip1"' in svg
    assert 'xlink:href="#pfx-clip1"' in svg
    assert "h1.23v2Z" in svg, "long decimals are rounded"
    parse(svg)


# --------------------------------------------------------------------------- safety


def assert_inert(svg: str) -> None:
    root = parse(svg)
    for el in root.iter():
        assert el.tag.startswith(SVG), el.tag
        assert el.tag.removeprefix(SVG) in EXPECTED_ELEMENTS, el.tag
        for name, value in el.attrib.items():
            assert not name.rpartition("}")[2].lower().startswith("on"), name
            assert name != "style"
            assert "javascript:" not in value.lower()
            assert not re.search(r"url\((?!#)", value), value
    lowered = svg.lower()
    for needle in ("<script", "<foreignobject", "<image", "<a ", "<use", "@import", "@font-face"):
        assert needle not in lowered
    # Only namespace declarations may name a URL outside text content.
    attribute_urls = set()
    for el in root.iter():
        for value in el.attrib.values():
            attribute_urls |= set(re.findall(r"https?://[^\s\"'<>]*", value))
    assert attribute_urls <= EXPECTED_URLS
    # The raw markup has no URLs but the namespaces and the hostile label's escaped text.
    assert set(re.findall(r"https?://[^\s\"'<>]*", svg)) <= EXPECTED_URLS | {"https://evil.example/x.png"}


def test_no_scripts_handlers_or_external_references(all_charts):
    for chart in all_charts.values():
        assert_inert(chart.svg)


def test_hostile_labels_are_escaped_text_only(honest):
    honest_texts = texts(honest.svg)
    for label in HOSTILE:
        assert label in honest_texts, label
    # The labels exist only as escaped character data, never as markup.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in honest.svg
    assert "&lt;/svg&gt;&lt;svg onload=alert(1)&gt;" in honest.svg


def test_control_characters_are_removed_and_long_labels_truncated(honest):
    honest_texts = texts(honest.svg)
    assert "pip" in honest_texts
    assert not any(re.search(r"[\x00-\x1f\u202e]", text) for text in honest_texts)
    long = [text for text in honest_texts if text.startswith("xxx")]
    assert len(long) == 1, long
    assert long[0].endswith("…"), "Vega's text limit truncates"
    assert len(long[0]) < 100, "Vega's text limit truncates"
    assert clean_label("a\x00b\tc\r\nd\u202e\ud800") == "ab c d"
    assert len(clean_label("y" * 10_000)) == MAX_LABEL_CHARS


def test_share_labels_are_cleaned_and_kept_distinct():
    weeks = [(day(0), {"a": 3, "pip\x00\u202e": 2, "": 1})]
    _rows, scales = drawing.share_datasets(weeks, ["a", "pip\x00\u202e", "a", ""])
    # A nominal scale would merge equal labels into one band; an empty one would have no name.
    assert scales["color"]["domain"] == ["a", "pip", "a (2)", "(empty)"]


@pytest.mark.parametrize(
    "fragment",
    [
        "<script>alert(1)</script>",
        '<foreignObject><div xmlns="http://www.w3.org/1999/xhtml">x</div></foreignObject>',
        '<image href="https://evil.example/x.png"/>',
        '<path onload="alert(1)" d="M0,0"/>',
        '<path d="M0,0" fill="url(https://evil.example/#x)"/>',
        '<path d="M0,0" style="fill:red"/>',
        '<a href="javascript:alert(1)"><text>x</text></a>',
        '<path href="https://evil.example/x" d="M0,0"/>',
    ],
)
def test_postprocess_refuses_unsafe_markup(fragment):
    raw = f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1">{fragment}</svg>'
    with pytest.raises(ValueError):
        postprocess_svg(raw, title="t", description="d", chart_id="x")


# --------------------------------------------------------------------------- theme and font


def test_ink_follows_the_page_colour_scheme(vega_charts):
    for chart in vega_charts.values():
        svg = chart.svg.lower()
        assert 'fill="currentcolor"' in svg
        assert INK not in svg, "the sentinel is replaced"
        # Vega's default greys and backgrounds would not adapt to a dark page.
        for fixed in ('"#000"', '"#888"', '"#ddd"', '"black"', '"white"', '"#fff"', '"#ffffff"'):
            assert fixed not in svg, fixed
        assert "<rect" not in svg.split("</desc>", 1)[1][:200], "no opaque background"


def inherited(root: ET.Element, attribute: str) -> dict[ET.Element, str | None]:
    """Each element's value for an inherited presentation attribute: its own, else its nearest ancestor's."""
    out: dict[ET.Element, str | None] = {}

    def walk(element: ET.Element, value: str | None) -> None:
        value = element.get(attribute, value)
        out[element] = value
        for child in element:
            walk(child, value)

    walk(root, None)
    return out


def test_text_uses_the_system_font(vega_charts):
    for chart in vega_charts.values():
        root = parse(chart.svg)
        family = inherited(root, "font-family")
        assert {family[el] for el in root.iter(f"{SVG}text")} == {"system-ui, sans-serif"}
        # Said once on the root, not repeated on every label.
        assert chart.svg.count("font-family=") == 1


def test_svg_is_slimmed_without_losing_any_mark(vega_charts, share):
    for chart in vega_charts.values():
        root = parse(chart.svg)
        for el in root.iter():
            assert el.get("opacity") != "1"
            assert el.get("transform") != "translate(0,0)"
            # Every path that remains draws something.
            if el.tag == f"{SVG}path":
                fill, stroke = inherited(root, "fill")[el], inherited(root, "stroke")[el]
                assert fill not in (None, "none") or stroke not in (None, "none"), ET.tostring(el)
        assert " />" not in chart.svg
    # Each band keeps its own fill, in the page key's colour ("other" in the page's ink).
    keyed = [drawing.share_color(i, label) for i, label in enumerate(SHARE_LABELS)]
    keyed = ["currentColor" if colour == INK else colour for colour in keyed]
    bands = [el.get("fill") for el in parse(share.svg).iter(f"{SVG}path") if el.get("fill")]
    assert bands == keyed


# --------------------------------------------------------------------------- the honest number over time


def test_honest_chart_lines_are_the_series_and_break_at_missing_days() -> None:
    datasets, _scales = drawing.honest_datasets(honest_days(), missing_days=MISSING)
    lines = datasets["lines"]
    honest = {row["day"]: row["value"] for row in lines if row["series"] == "honest"}
    assert honest == {d.day.isoformat(): d.honest for d in honest_days()}
    segments = {row["segment"] for row in lines if row["series"] == "honest"}
    assert len(segments) == 3  # days 3-4 and day 9 are missing: three runs, no line bridges a gap
    assert {row["day"] for row in datasets["all"]} == set(honest)
    assert [row["day"] for row in datasets["missing"]] == sorted(d.isoformat() for d in MISSING)


def test_honest_chart_is_drawn_for_a_phone_with_12px_text() -> None:
    chart = drawing.honest_over_time(honest_days(), title="t", description="d", chart_id="h")
    for most in (360,):  # a phone's column is 343 px: 12 px text shown at 343/360 is still 11.4 px
        root = ET.fromstring(chart.svg)
        width = float(root.get("width"))
        assert width <= most, width
        sizes = {t.get("font-size") for t in root.iter(f"{{{SVG_NS}}}text")} - {None}
        sizes |= {g.get("font-size") for g in root.iter(f"{{{SVG_NS}}}g")} - {None}
        assert sizes == {"12px"}, sizes


def test_a_day_alone_between_gaps_gets_a_dot() -> None:
    # A line draws nothing for a day alone in its run, so that day is marked with a point instead.
    days = [drawing.HonestDay(day(i), 5, None, 9, None) for i in (0, 2, 3)]
    rows = drawing.honest_datasets(days, missing_days=[day(1)])[0]["lines"]
    assert [(r["day"], r["alone"]) for r in rows] == [
        (day(0).isoformat(), True),
        (day(2).isoformat(), False),
        (day(3).isoformat(), False),
    ]
    assert not any(r["alone"] for r in drawing.honest_datasets(honest_days(), missing_days=MISSING)[0]["lines"])


def test_line_colours_present_only_for_series_present(honest) -> None:
    svg = honest.svg.lower()
    assert drawing.HONEST_COLOR.lower() in svg
    assert drawing.CI_COLOR.lower() in svg
    without_ci = drawing.honest_over_time(honest_days(ci=None), title="t", description="d", chart_id="no-ci")
    assert drawing.HONEST_COLOR.lower() in without_ci.svg.lower()
    assert drawing.CI_COLOR.lower() not in without_ci.svg.lower(), "a source with no CI flag draws no CI line"


def test_breaks_are_labelled_rules(honest) -> None:
    datasets, _scales = drawing.honest_datasets(honest_days(), breaks=[(day(6), "new source")])
    assert [row["label"] for row in datasets["breaks"]] == ["new source"]
    assert {"Honest installs per day", HOSTILE[4]} <= set(texts(honest.svg))


def test_210_day_chart_is_small() -> None:
    days = [drawing.HonestDay(day(i), 1000 + 37 * i, 50 + i, 5000 + 11 * i, 1000.0 + i) for i in range(210)]
    chart = drawing.honest_over_time(days, title="t", description="d", chart_id="big")
    assert len(chart.svg.encode()) < 30_000


def _axes(node: Any) -> list[dict[str, Any]]:
    """Every axis of a Vega spec, nested groups included."""
    if isinstance(node, list):
        return [axis for item in node for axis in _axes(item)]
    if not isinstance(node, dict):
        return []
    return list(node.get("axes", [])) + [axis for value in node.values() for axis in _axes(value)]


def _with_label_limit(vega: dict[str, Any]) -> dict[str, Any]:
    limited = copy.deepcopy(vega)
    for axis in _axes(limited):
        axis["labelLimit"] = charts.LABEL_LIMIT
    return limited


def _extreme_charts() -> dict[str, dict[str, Any]]:
    """Filled specs whose axis labels are as long as they get: counts in the hundreds of billions, a year
    of days (every month name, "September" the widest), shares from 0% to 100%."""
    days = [drawing.HonestDay(day(i), 987_654_321_000 + i, 1, 999_999_999_999, 987_654_321_000.0) for i in range(366)]
    honest, honest_scales = drawing.honest_datasets(days, breaks=[(day(200), "only .whl/.tar.gz/.zip counted")])
    weeks = [(day(7 * i), {"1.0": 1 + i, "2.0": 52 - i}) for i in range(52)]
    share, share_scales = drawing.share_datasets(weeks, ["1.0", "2.0"])
    shapes = charts.compile_shapes()
    return {
        "honest": drawing.fill(shapes.honest, honest, honest_scales),
        "share": drawing.fill(shapes.share, share, share_scales),
    }


@pytest.mark.parametrize("name", ["honest", "share"])
def test_axes_without_a_label_limit_draw_what_the_limit_would(name: str) -> None:
    """Axes whose labels are short by construction ask Vega for no limit (charts.SHORT_LABELS), which spares
    vl-convert a text measurement per label; with the longest labels they get, the drawing is the same."""
    vega = _extreme_charts()[name]
    unlimited = [axis for axis in _axes(vega) if axis.get("labelLimit") == charts.SHORT_LABELS]
    assert len(unlimited) >= 2  # the day axis and the count (or share) axis
    drawn = chartproc.draw_svg(vega)
    assert "September" in texts(drawn)
    assert drawn == chartproc.draw_svg(_with_label_limit(vega))  # (with a limit of 20 px, both differ)


TZ_SCRIPT = """
import datetime as dt
from generator import charts, drawing
drawing.prepare(charts.compile_shapes())
days = [drawing.HonestDay(dt.date(2024, 12, 20) + dt.timedelta(days=i), 10 + i, 1, 20 + i, None) for i in range(30)]
chart = drawing.honest_over_time(days, missing_days=[dt.date(2025, 1, 5)], title="t", description="d", chart_id="tz")
print(chart.svg)
"""


def test_build_machine_timezone_never_shifts_days() -> None:
    def run(tz: str) -> subprocess.Popen[str]:
        env = {**os.environ, "TZ": tz, "PYTHONPATH": str(ROOT)}
        return subprocess.Popen([sys.executable, "-c", TZ_SCRIPT], env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)

    # UTC-8 and UTC+14: a local-time scale would put every day boundary elsewhere.
    west, east = run("America/Los_Angeles"), run("Pacific/Kiritimati")
    outputs = [process.communicate(timeout=60)[0] for process in (west, east)]
    assert west.returncode == east.returncode == 0
    assert outputs[0] == outputs[1]
    # Each panel's one month tick is 1 January at UTC midnight, which Vega labels with the year.
    assert texts(outputs[0]).count("2025") == 2


@pytest.mark.parametrize(
    "make",
    [
        lambda: drawing.honest_over_time([], title="t", description="d", chart_id="edge"),
        lambda: drawing.honest_over_time(
            [drawing.HonestDay(day(0), 5, None, 5, 5.0)],
            breaks=[(day(0), "b")],
            title="t",
            description="d",
            chart_id="edge",
        ),
        lambda: drawing.share_over_time([], [], title="t", description="d", chart_id="edge"),
        lambda: drawing.share_over_time([(day(0), {})], ["a"], title="t", description="d", chart_id="edge"),
        lambda: drawing.sparkline([], title="t", description="d", chart_id="edge"),
        lambda: drawing.sparkline([(day(0), None), (day(1), 0.0)], title="t", description="d", chart_id="edge"),
    ],
    ids=["no-days", "one-day", "no-weeks", "empty-week", "no-values", "gap-and-zero"],
)
def test_degenerate_inputs_still_render(make) -> None:
    assert_inert(make().svg)


def test_sparkline_is_text_free_inert_and_broken_at_gaps() -> None:
    values = [(day(0), 1.0), (day(1), 2.0), (day(2), None), (day(3), 4.0), (day(4), 2.0)]
    chart = drawing.sparkline(values, title="t", description="d", chart_id="spark")
    root = ET.fromstring(chart.svg)
    check_safe(ET.fromstring(chart.svg.replace("<svg", f'<svg xmlns:x="{SVG_NS}"', 1)))
    assert not list(root.iter(f"{{{SVG_NS}}}text"))
    line = [p for p in root.iter(f"{{{SVG_NS}}}path")][-1].get("d")
    assert (line.count("M"), line.count("L")) == (2, 2), line  # two runs: before and after the missing day
    assert line.startswith("M0.0 "), line
    assert "M270.0 3.0" in line  # the highest value touches the top


def test_share_chart_stacks_each_week_to_one_in_the_given_order() -> None:
    weeks = [(day(0), {"1.0": 3, "2.0": 1}), (day(7), {"1.0": 1, "2.0": 3, "other": 4}), (day(14), {})]
    datasets, scales = drawing.share_datasets(weeks, ["1.0", "2.0", "other"])
    rows = datasets["shares"]
    by_week: dict[str, float] = {}
    for r in rows:
        by_week[r["day"]] = by_week.get(r["day"], 0) + r["share"]
    assert by_week == {day(0).isoformat(): 1.0, day(7).isoformat(): 1.0}  # an empty week is a gap, not zeros
    assert [r["label"] for r in rows[:3]] == ["1.0", "2.0", "other"]
    assert scales["color"]["range"][-1] == INK  # "other" in faint ink


def with_scales(spec: Any, scales: dict[str, dict[str, list]]) -> Any:
    """A Vega-Lite spec whose encodings' scales (by channel) have the given domain and range."""
    if isinstance(spec, list):
        return [with_scales(item, scales) for item in spec]
    if not isinstance(spec, dict):
        return spec
    out = {key: with_scales(value, scales) for key, value in spec.items()}
    for channel, encoding in out.get("encoding", {}).items():
        if channel in scales and isinstance(encoding.get("scale"), dict):
            out["encoding"][channel] = {**encoding, "scale": {**encoding["scale"], **scales[channel]}}
    return out


FILLED = [
    ("share", lambda: drawing.share_datasets(WEEKS, ["9.9.9rc1", 'a "quoted" <label>', "other"])),
    ("share", lambda: drawing.share_datasets(WEEKS, [str(n) for n in range(9)])),
    ("honest", lambda: drawing.honest_datasets(honest_days(ci=None))),
    ("honest", lambda: drawing.honest_datasets([drawing.HonestDay(day(0), 5, 1, 9, None)])),
    ("card", lambda: drawing.card_datasets("p", "1", "w", [(day(0), 3.0), (day(1), 7.5)])),
]


@pytest.mark.parametrize(("name", "make"), FILLED, ids=[f"{name}-{i}" for i, (name, _) in enumerate(FILLED)])
def test_a_filled_shape_is_what_the_chart_compiles_to_on_its_own(shapes, name, make) -> None:
    """Each package's chart fills the one compiled shape: its own labels, series and extent, not the first's.

    The filled spec is the one vl-convert compiles from the chart's own Vega-Lite spec.
    """
    shape: drawing.Shape = getattr(shapes, name)
    datasets, scales = make()
    filled = drawing.fill(shape, datasets, scales)
    alone = vl_convert.vegalite_to_vega(with_scales(shape.vega_lite, scales))
    assert [{k: v for k, v in d.items() if k != "values"} for d in filled["data"]] == alone["data"]
    assert {**filled, "data": alone["data"]} == alone


@pytest.mark.parametrize(
    ("change", "fills", "refused"),
    [
        pytest.param(
            lambda chart: chart.properties(title=f"({charts._PLACEHOLDER})"),
            {"color": ("domain",)},
            "outside its scale",
            id="the placeholder in a title too",
        ),
        pytest.param(lambda chart: chart, {"size": ("domain",)}, "no scale", id="a fill for a scale the chart lacks"),
    ],
)
def test_a_placeholder_compiled_outside_its_scale_stops_the_build(change, fills, refused: str) -> None:
    """A worker fills a scale; the same text anywhere else (a title, a longer string) would stay unfilled."""
    scale = alt.Scale(domain=[charts._PLACEHOLDER], range=["#000000"])
    chart = alt.Chart(alt.NamedData(name="x")).mark_area().encode(x="d:T", y="v:Q", color=alt.Color("l:N", scale=scale))
    charts.compile_shape(charts.vega_lite(chart), {"color": ("domain",)})  # inside its scale only: fine
    with pytest.raises(ValueError, match=refused):
        charts.compile_shape(charts.vega_lite(change(chart)), fills)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda datasets, scales: ({**datasets, "extra": []}, scales), id="a dataset too many"),
        pytest.param(lambda datasets, scales: (datasets, {}), id="its scales missing"),
    ],
)
def test_a_chart_fills_exactly_its_shapes_datasets_and_scales(shapes, change) -> None:
    datasets, scales = change(*drawing.share_datasets(WEEKS, SHARE_LABELS))
    with pytest.raises(ValueError, match="fills datasets"):
        drawing.fill(shapes.share, datasets, scales)


def _line_widths(svg: str) -> dict[str, set[str]]:
    """The stroke widths of the chart's line paths, by stroke colour (with or without dashes)."""
    root = ET.fromstring(svg)
    out: dict[str, set[str]] = {}
    for path in root.iter(f"{{{SVG_NS}}}path"):
        stroke, width = path.get("stroke"), path.get("stroke-width")
        if stroke and width and path.get("fill") in (None, "none"):
            dashed = path.get("stroke-dasharray") not in (None, "1,0")  # "1,0" is how a solid line is given
            key = f"{stroke.lower()}{' dashed' if dashed else ''}"
            out.setdefault(key, set()).add(width)
    return out


@pytest.mark.parametrize(
    ("ci", "mean", "expected"),
    [
        pytest.param(True, True, {"honest": "1", "mean": "2.6", "ci": "1.2"}, id="all three lines"),
        pytest.param(False, True, {"honest": "1", "mean": "2.6"}, id="no CI flag"),
        pytest.param(False, False, {"honest": "1"}, id="honest line alone"),
    ],
)
def test_each_honest_line_is_drawn_at_its_own_width(ci: bool, mean: bool, expected: dict[str, str]) -> None:
    """HONEST_LINES gives each line its width: the 7-day mean thick, the daily line and CI thin."""
    days = [
        dataclasses.replace(d, ci=d.ci if ci else None, honest_mean=d.honest_mean if mean else None)
        for d in honest_days()
    ]
    svg = drawing.honest_over_time(days, title="t", description="d", chart_id="w").svg
    widths = _line_widths(svg)
    honest_colour = drawing.HONEST_COLOR.lower()
    assert widths.get(f"{drawing.CI_COLOR.lower()} dashed", set()) == ({expected["ci"]} if "ci" in expected else set())
    assert widths.get(honest_colour, set()) == {expected[k] for k in ("honest", "mean") if k in expected}
