"""Charts render with the real vl-convert into inert, namespaced, themeable inline SVG."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import altair as alt
import pytest

from generator import charts
from generator.categories import (
    CATEGORIES,
    CATEGORY_COLORS,
    CATEGORY_LABELS,
    MIRROR,
    OTHER,
    PACKAGE_MANAGER,
    SCRIPT,
    UNKNOWN,
)

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

MISSING = [day(3), day(4), day(9)]


def series_points(days: int = 14) -> list[tuple[dt.date, str, int]]:
    points = []
    for offset in range(days):
        if day(offset) in MISSING:
            continue
        points += [(day(offset), MIRROR, 50 + offset), (day(offset), SCRIPT, 20), (day(offset), PACKAGE_MANAGER, 100)]
    return points


@pytest.fixture(scope="module")
def ts() -> charts.Chart:
    rolling = [(day(i), 170.0 + i) for i in range(14) if day(i) not in MISSING]
    return charts.timeseries(
        series_points(),
        missing_days=MISSING,
        rolling=rolling,
        breaks=[(day(6), HOSTILE[0])],
        title='Daily downloads of "pkg" <all>',
        description="Stacked by category & a 7-day mean.",
        chart_id="ts",
    )


STEPS = [
    ("All downloads", 1000, "total"),
    ("mirror", 400, "minus"),  # a category key
    ("Scripts, browsers and packagers", 150, "minus"),  # a category label
    ("CI runs", 50, "minus"),  # no category
    ("Not CI, not mirrors", 400, "subtotal"),
    (HOSTILE[1], 100, "minus"),
    ("Real installs", 300, "total"),
]


@pytest.fixture(scope="module")
def wf() -> charts.Chart:
    return charts.waterfall(STEPS, title="Waterfall", description="From all rows to real installs.", chart_id="wf")


RELEASES = [(day(2), "1.0.0"), (day(8), HOSTILE[3])]


@pytest.fixture(scope="module")
def mirror() -> charts.Chart:
    points = [(d, MIRROR if s == MIRROR else "not mirror", n) for d, s, n in series_points()]
    return charts.mirror_vs_rest(
        points, releases=RELEASES, missing_days=MISSING, title="Mirrors", description="d", chart_id="mirror"
    )


ITEMS = [(label, 1000 - 10 * i) for i, label in enumerate(HOSTILE)] + [
    ("pip\x00\x07\u202e", 300),
    ("x" * 500, 200),
    ("other", 100),
]


@pytest.fixture(scope="module")
def bar() -> charts.Chart:
    return charts.bars(ITEMS, title="Installers", description="Top installers.", chart_id="bars-1")


@pytest.fixture(scope="module")
def all_charts(ts, wf, mirror, bar) -> dict[str, charts.Chart]:
    return {"ts": ts, "wf": wf, "mirror": mirror, "bars-1": bar}


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


def test_title_text_is_escaped(ts):
    assert '<title id="ts-title">Daily downloads of "pkg" &lt;all&gt;</title>' in ts.svg
    assert "Stacked by category &amp; a 7-day mean." in ts.svg


def test_desktop_width_is_720(ts, mirror):
    for chart in (ts, mirror):
        assert parse(chart.svg).get("width") == "720"


@pytest.mark.parametrize("bad", ["", "1chart", "Chart", "a_b", "a b", 'a"b', "a/b", "ä", "a\n"])
def test_chart_id_is_validated(bad):
    with pytest.raises(ValueError, match="chart_id"):
        charts.bars([("a", 1)], title="t", description="d", chart_id=bad)


def test_specs_are_valid_vega_lite():
    for spec in (
        charts.timeseries_spec(series_points(), missing_days=MISSING, rolling=[(day(0), 1.0)], breaks=[(day(1), "b")]),
        charts.waterfall_spec(STEPS),
        charts.mirror_vs_rest_spec([(day(0), MIRROR, 1)], releases=RELEASES, missing_days=MISSING),
        charts.bars_spec(ITEMS),
    ):
        charts.validate_spec(spec)


# --------------------------------------------------------------------------- ids


def test_ids_are_prefixed_and_unique_across_charts():
    # clip=True makes Vega emit a clipPath with an id and a url(#...) reference to it.
    chart = alt.Chart(alt.Data(values=[{"a": "x", "n": 5}])).mark_bar(clip=True).encode(x="a:N", y="n:Q")
    one = charts.render_svg(chart, title="t", description="d", chart_id="one")
    two = charts.render_svg(chart, title="t", description="d", chart_id="two")
    one_ids, two_ids = ids(one.svg), ids(two.svg)
    assert len(one_ids) > 2, "expected a clipPath id besides title and desc"
    assert all(i.startswith("one-") for i in one_ids)
    assert all(i.startswith("two-") for i in two_ids)
    assert not set(one_ids) & set(two_ids)
    assert len(set(one_ids)) == len(one_ids)
    refs = re.findall(r"url\(#([^)]+)\)", one.svg)
    assert refs and set(refs) <= set(one_ids)


def test_postprocess_prefixes_every_kind_of_reference():
    raw = (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="10" '
        'height="10" viewBox="0 0 10 10"><defs><clipPath id="clip1"><rect width="5" height="5"/></clipPath>'
        '</defs><g clip-path="url(#clip1)"><path d="M0,0h1.23456v2Z" fill="url(#clip1)"/></g>'
        '<path href="#clip1" d="M0,0"/><path xlink:href="#clip1" d="M0,0"/></svg>'
    )
    svg = charts.postprocess_svg(raw, title="t", description="d", chart_id="pfx")
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


def test_hostile_labels_are_escaped_text_only(bar, wf, mirror, ts):
    bar_texts = texts(bar.svg)
    for label in HOSTILE:
        assert label in bar_texts, label
    assert HOSTILE[1] in texts(wf.svg)
    assert HOSTILE[3] in texts(mirror.svg)
    assert HOSTILE[0] in texts(ts.svg)
    # The labels exist only as escaped character data, never as markup.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in bar.svg
    assert "&lt;/svg&gt;&lt;svg onload=alert(1)&gt;" in bar.svg


def test_control_characters_are_removed_and_long_labels_truncated(bar):
    bar_texts = texts(bar.svg)
    assert "pip" in bar_texts
    assert not any(re.search(r"[\x00-\x1f\u202e]", text) for text in bar_texts)
    long = [text for text in bar_texts if text.startswith("xxx")]
    assert len(long) == 1 and long[0].endswith("…") and len(long[0]) < 100, "Vega's labelLimit truncates"
    assert charts.clean_label("a\x00b\tc\r\nd\u202e\ud800") == "ab c d"
    assert len(charts.clean_label("y" * 10_000)) == charts.MAX_LABEL_CHARS


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
        charts.postprocess_svg(raw, title="t", description="d", chart_id="x")


# --------------------------------------------------------------------------- theme and font


def test_ink_follows_the_page_colour_scheme(all_charts):
    for chart in all_charts.values():
        svg = chart.svg.lower()
        assert 'fill="currentcolor"' in svg
        assert charts.INK not in svg, "the sentinel is replaced"
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


def test_text_uses_the_system_font(all_charts):
    for chart in all_charts.values():
        root = parse(chart.svg)
        family = inherited(root, "font-family")
        assert {family[el] for el in root.iter(f"{SVG}text")} == {"system-ui, sans-serif"}
        # Said once on the root, not repeated on every label.
        assert chart.svg.count("font-family=") == 1


def test_svg_is_slimmed_without_losing_any_mark(all_charts, bar):
    for chart in all_charts.values():
        root = parse(chart.svg)
        for el in root.iter():
            assert el.get("opacity") != "1" and el.get("transform") != "translate(0,0)"
            # Every path that remains draws something.
            if el.tag == f"{SVG}path":
                fill, stroke = inherited(root, "fill")[el], inherited(root, "stroke")[el]
                assert fill not in (None, "none") or stroke not in (None, "none"), ET.tostring(el)
        assert " />" not in chart.svg
    # Bars keep their own fill (a reader takes each bar's colour from the bar itself).
    bars = [el for el in parse(bar.svg).iter(f"{SVG}path") if el.get("d", "").startswith("M0,")]
    assert len(bars) == len(ITEMS) and all(el.get("fill") for el in bars)


# --------------------------------------------------------------------------- time series


def test_missing_days_have_no_bars_and_are_shaded():
    points = series_points() + [(day(3), MIRROR, 999)]  # a partial count on a missing day is dropped
    spec = charts.timeseries_spec(points, missing_days=MISSING)
    bar_days = {row["day"] for row in spec["datasets"]["bars"]}
    assert bar_days.isdisjoint({d.isoformat() for d in MISSING})
    assert len(bar_days) == 14 - len(MISSING)
    assert [row["day"] for row in spec["datasets"]["missing"]] == [d.isoformat() for d in MISSING]
    assert all(row["y1"] > row["y0"] for row in spec["datasets"]["bars"]), "no zero-height marks"


def test_bars_drawn_equal_segments_present(ts):
    spec = charts.timeseries_spec(series_points(), missing_days=MISSING)
    rows = spec["datasets"]["bars"]
    colours = {CATEGORY_COLORS[c].lower() for c in (MIRROR, SCRIPT, PACKAGE_MANAGER)}
    filled = [el for el in parse(ts.svg).iter(f"{SVG}path") if (el.get("fill") or "").lower() in colours]
    # One path per bar segment, plus one legend swatch per category shown.
    assert len(filled) == len(rows) + 3
    assert len(rows) == 3 * (14 - len(MISSING))


def test_stack_order_and_heights():
    spec = charts.timeseries_spec([(day(0), SCRIPT, 5), (day(0), PACKAGE_MANAGER, 7), (day(0), SCRIPT, 1)])
    rows = spec["datasets"]["bars"]
    assert [(r["category"], r["y0"], r["y1"]) for r in rows] == [(PACKAGE_MANAGER, 0, 7), (SCRIPT, 7, 13)]


def test_rolling_line_breaks_at_missing_days():
    rolling = [(day(i), float(i)) for i in range(14)]
    spec = charts.timeseries_spec(series_points(), missing_days=MISSING, rolling=rolling)
    rows = spec["datasets"]["mean"]
    assert {r["day"] for r in rows}.isdisjoint({d.isoformat() for d in MISSING})
    segments = [r["segment"] for r in rows]
    assert segments == [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2]
    assert not any(r["alone"] for r in rows)
    alone = charts.timeseries_spec([], rolling=[(day(0), 1.0), (day(2), 2.0), (day(3), 2.0)])["datasets"]["mean"]
    assert [r["alone"] for r in alone] == [True, False, False]


def test_category_colours_present_only_for_categories_present(ts):
    svg = ts.svg.lower()
    for category in (MIRROR, SCRIPT, PACKAGE_MANAGER):
        assert CATEGORY_COLORS[category].lower() in svg
        assert CATEGORY_LABELS[category] in texts(ts.svg), "legend names it"
    for category in (UNKNOWN, OTHER):
        assert CATEGORY_COLORS[category].lower() not in svg


def test_unknown_category_is_refused():
    with pytest.raises(ValueError, match="unknown category"):
        charts.timeseries_spec([(day(0), "pip", 1)])


def test_breaks_are_labelled_rules(ts):
    assert HOSTILE[0] in texts(ts.svg)
    assert "7-day mean" in texts(ts.svg)


def test_210_day_chart_is_small():
    points = [(day(i), c, 1000 + 37 * i + 11 * j) for i in range(210) for j, c in enumerate(CATEGORIES)]
    rolling = [(day(i), 5000.0 + i) for i in range(210)]
    chart = charts.timeseries(points, rolling=rolling, title="t", description="d", chart_id="big")
    assert len(chart.svg.encode()) < 100_000


TZ_SCRIPT = """
import datetime as dt
from generator import charts
points = [(dt.date(2025, 1, 1) + dt.timedelta(days=i), "mirror", 10 + i) for i in range(10)]
chart = charts.timeseries(points, missing_days=[dt.date(2025, 1, 5)], title="t", description="d", chart_id="tz")
print(chart.svg)
"""


def test_build_machine_timezone_never_shifts_days():
    def run(tz: str) -> subprocess.Popen[str]:
        env = {**os.environ, "TZ": tz, "PYTHONPATH": str(ROOT)}
        return subprocess.Popen([sys.executable, "-c", TZ_SCRIPT], env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)

    # UTC-8 and UTC+14: a local-time scale would put every day boundary elsewhere.
    west, east = run("America/Los_Angeles"), run("Pacific/Kiritimati")
    outputs = [process.communicate(timeout=60)[0] for process in (west, east)]
    assert west.returncode == east.returncode == 0
    assert outputs[0] == outputs[1]
    labels = texts(outputs[0])
    assert labels[0] == "2025", "the first tick is 1 January at UTC midnight"
    assert "Sat 11" not in labels[:1] and "Thu 02" in labels


# --------------------------------------------------------------------------- waterfall


def test_waterfall_running_totals():
    rows = charts.waterfall_rows(STEPS)
    running = 0
    for row, (_, value, kind) in zip(rows, STEPS, strict=True):
        if kind == "minus":
            assert (row["start"], row["end"]) == (running - value, running)
            running -= value
        else:
            assert (row["start"], row["end"]) == (0, value)
            running = value
    assert [(r["start"], r["end"]) for r in rows] == [
        (0, 1000),
        (600, 1000),
        (450, 600),
        (400, 450),
        (0, 400),
        (300, 400),
        (0, 300),
    ]


def test_waterfall_colours_minus_steps_by_category(wf):
    rows = charts.waterfall_rows(STEPS)
    assert rows[1]["color"] == CATEGORY_COLORS[MIRROR]
    assert rows[2]["color"] == CATEGORY_COLORS[SCRIPT]
    assert rows[3]["color"] == charts.INK and rows[3]["opacity"] < 1
    assert CATEGORY_COLORS[MIRROR].lower() in wf.svg.lower()
    explicit = charts.waterfall_rows(STEPS, categories=[None, UNKNOWN, None, OTHER, None, None, None])
    assert explicit[1]["color"] == CATEGORY_COLORS[UNKNOWN]
    assert explicit[3]["color"] == CATEGORY_COLORS[OTHER]
    assert "−400" in texts(wf.svg) and "1,000" in texts(wf.svg)


def test_waterfall_rejects_bad_steps():
    with pytest.raises(ValueError, match="kind"):
        charts.waterfall_rows([("a", 1, "plus")])
    with pytest.raises(ValueError, match="negative"):
        charts.waterfall_rows([("a", -1, "minus")])
    with pytest.raises(ValueError, match="aligned"):
        charts.waterfall_rows([("a", 1, "total")], categories=[])


def test_waterfall_keeps_step_order(wf):
    labels = [t for t in texts(wf.svg) if t in {label for label, _, _ in STEPS}]
    assert labels == [label for label, _, _ in STEPS]


# --------------------------------------------------------------------------- mirror vs rest


def test_mirror_vs_rest_breaks_lines_and_marks_releases(mirror):
    points = [(d, MIRROR if s == MIRROR else "not mirror", n) for d, s, n in series_points()]
    spec = charts.mirror_vs_rest_spec(points, releases=RELEASES, missing_days=MISSING)
    rows = spec["datasets"]["series"]
    assert {r["day"] for r in rows}.isdisjoint({d.isoformat() for d in MISSING})
    assert {r["segment"] for r in rows} == {f"{s}-{i}" for s in (MIRROR, "not mirror") for i in range(3)}
    assert [r["label"] for r in spec["datasets"]["releases"]] == ["1.0.0", HOSTILE[3]]
    assert "1.0.0" in texts(mirror.svg)
    assert CATEGORY_COLORS[MIRROR].lower() in mirror.svg.lower()
    assert {CATEGORY_LABELS[MIRROR], "Everything else"} <= set(texts(mirror.svg))


def test_mirror_vs_rest_refuses_unknown_series():
    with pytest.raises(ValueError, match="series"):
        charts.mirror_vs_rest_spec([(day(0), "mirrors", 1)])


# --------------------------------------------------------------------------- bars


def test_bars_keep_order_and_distinct_labels():
    spec = charts.bars_spec([("a", 3), ("a", 2), ("", 1)])
    assert [row["label"] for row in spec["datasets"]["items"]] == ["a", "a (2)", "(empty)"]


def test_bars_color_is_validated():
    with pytest.raises(ValueError, match="color"):
        charts.bars([("a", 1)], title="t", description="d", chart_id="c", color="red;}")
    chart = charts.bars([("a", 1)], title="t", description="d", chart_id="c", color="#123456")
    assert "#123456" in chart.svg


@pytest.mark.parametrize(
    "make",
    [
        lambda: charts.timeseries([], title="t", description="d", chart_id="edge"),
        lambda: charts.timeseries(
            [(day(0), MIRROR, 5)],
            rolling=[(day(0), 5.0)],
            breaks=[(day(0), "b")],
            title="t",
            description="d",
            chart_id="edge",
        ),
        lambda: charts.mirror_vs_rest([], title="t", description="d", chart_id="edge"),
    ],
    ids=["no-data", "one-day", "no-series"],
)
def test_degenerate_inputs_still_render(make):
    assert_inert(make().svg)


# -- the honest number over time, and the first screen's sparkline ---------------------------------
def honest_days(n: int = 14) -> list[charts.HonestDay]:
    return [
        charts.HonestDay(day(i), 100 + i, 10, 400 + i, 100.0 + i if i >= 3 else None)
        for i in range(n)
        if day(i) not in MISSING
    ]


def test_honest_chart_lines_are_the_series_and_break_at_missing_days() -> None:
    spec = charts.honest_over_time_spec(honest_days(), missing_days=MISSING)
    lines = spec["datasets"]["lines"]
    honest = {row["day"]: row["value"] for row in lines if row["series"] == "honest"}
    assert honest == {d.day.isoformat(): d.honest for d in honest_days()}
    segments = {row["segment"] for row in lines if row["series"] == "honest"}
    assert len(segments) == 3  # days 3-4 and day 9 are missing: three runs, no line bridges a gap
    assert {row["day"] for row in spec["datasets"]["all"]} == set(honest)
    assert [row["day"] for row in spec["datasets"]["missing"]] == sorted(d.isoformat() for d in MISSING)


def test_honest_chart_is_drawn_for_a_phone_with_12px_text() -> None:
    chart = charts.honest_over_time(honest_days(), title="t", description="d", chart_id="h")
    for most in (360,):  # a phone's column is 343 px: 12 px text shown at 343/360 is still 11.4 px
        root = ET.fromstring(chart.svg)
        width = float(root.get("width"))
        assert width <= most, width
        sizes = {t.get("font-size") for t in root.iter(f"{{{charts.SVG_NS}}}text")} - {None}
        sizes |= {g.get("font-size") for g in root.iter(f"{{{charts.SVG_NS}}}g")} - {None}
        assert sizes == {"12px"}, sizes


def test_sparkline_is_text_free_inert_and_broken_at_gaps() -> None:
    values = [(day(0), 1.0), (day(1), 2.0), (day(2), None), (day(3), 4.0), (day(4), 2.0)]
    chart = charts.sparkline(values, title="t", description="d", chart_id="spark")
    root = ET.fromstring(chart.svg)
    charts.check_safe(ET.fromstring(chart.svg.replace("<svg", f'<svg xmlns:x="{charts.SVG_NS}"', 1)))
    assert not list(root.iter(f"{{{charts.SVG_NS}}}text"))
    line = [p for p in root.iter(f"{{{charts.SVG_NS}}}path")][-1].get("d")
    assert line.count("M") == 2 and line.count("L") == 2, line  # two runs: before and after the missing day
    assert line.startswith("M0.0 ") and "M270.0 3.0" in line  # the highest value touches the top


def test_share_chart_stacks_each_week_to_one_in_the_given_order() -> None:
    weeks = [(day(0), {"1.0": 3, "2.0": 1}), (day(7), {"1.0": 1, "2.0": 3, "other": 4}), (day(14), {})]
    spec = charts.share_over_time_spec(weeks, ["1.0", "2.0", "other"])
    rows = spec["datasets"]["shares"]
    by_week: dict[str, float] = {}
    for r in rows:
        by_week[r["day"]] = by_week.get(r["day"], 0) + r["share"]
    assert by_week == {day(0).isoformat(): 1.0, day(7).isoformat(): 1.0}  # an empty week is a gap, not zeros
    assert [r["label"] for r in rows[:3]] == ["1.0", "2.0", "other"]
    assert spec["layer"][0]["encoding"]["color"]["scale"]["range"][-1] == charts.INK  # "other" in faint ink
