"""The built demo site in a real browser (Playwright driving Chromium), at the domain root and under a sub-path.

- every page loads with no console error, no failed request and no request to another host;
- every chart is visible, named for assistive technology, and drawn from the same numbers as its table;
- light and dark schemes at desktop and phone widths (screenshots), no horizontal overflow at 375 px;
- axe-core finds no serious or critical violation; keyboard focus follows the reading order;
- with JavaScript disabled every figure and table is still there.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import (
    DESKTOP,
    PHONE,
    SUBPATH,
    browser,  # noqa: F401 - fixture
    new_context,
    open_page,
    serving,
    settle,
    site_pages,
    visit,
)
from htmltools import number

from generator import sample

pytestmark = pytest.mark.browser

PACKAGES = list(sample.DEMO_PACKAGES)


@pytest.fixture(scope="module", params=["/", SUBPATH], ids=["root", "subpath"])
def served(request: pytest.FixtureRequest, demo_site: Path) -> Iterator[str]:
    """The demo site on a local server, at / and at /some/prefix/ (as on GitHub Pages)."""
    with serving(demo_site, prefix=request.param) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def served_root(demo_site: Path) -> Iterator[str]:
    with serving(demo_site) as base_url:
        yield base_url


def package_url(base_url: str, project: str) -> str:
    return f"{base_url}packages/{project}/index.html"


# -- the recorder itself --------------------------------------------------------------------------
def test_the_recorder_catches_what_it_must(browser, tmp_path: Path) -> None:  # noqa: F811
    """A canary page: a missing stylesheet, a third-party image and a console error are all caught."""
    (tmp_path / "index.html").write_text(
        '<!doctype html><html lang="en"><head><title>canary</title><link rel="stylesheet" href="missing.css">'
        '</head><body><img src="http://198.51.100.7/pixel.png" alt=""><script>console.error("boom")</script>'
        "</body></html>",
        encoding="utf-8",
    )
    with serving(tmp_path) as base_url:
        context, rec = new_context(browser, base_url)
        open_page(context, base_url, rec)
        context.close()
    assert rec.foreign == ["http://198.51.100.7/pixel.png"]
    assert any("missing.css" in u for u in rec.bad_status)
    assert any("boom" in m for m in rec.console)


# -- pages render ---------------------------------------------------------------------------------
def test_every_page_loads_cleanly_with_no_third_party_request(browser, served: str, demo_site: Path) -> None:  # noqa: F811
    pages = site_pages(demo_site)
    assert "index.html" in pages and all(f"packages/{p}/index.html" in pages for p in PACKAGES)
    context, rec = new_context(browser, served)
    page = context.new_page()
    for rel in pages:
        visit(page, served + rel, rec)
        assert page.title(), rel
        rec.assert_clean(rel)
    context.close()
    assert any(u.endswith("/style.css") for u in rec.requests), "the stylesheet was never requested"
    assert all(u.startswith(served) for u in rec.requests), [u for u in rec.requests if not u.startswith(served)]


def test_index_links_reach_every_package_under_the_prefix(browser, served: str) -> None:  # noqa: F811
    context, rec = new_context(browser, served)
    page = open_page(context, served, rec)
    for project in PACKAGES:
        before = Counter(rec.finished)
        page.get_by_role("link", name=project, exact=True).click()
        page.wait_for_load_state("load")
        settle(page, rec, before)
        assert page.url == package_url(served, project)
        assert page.get_by_role("heading", level=1).inner_text() == project
        before = Counter(rec.finished)
        page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Packages").click()
        page.wait_for_load_state("load")
        settle(page, rec, before)
        assert page.url == served + "index.html"
    rec.assert_clean("navigation")
    context.close()


# -- charts ---------------------------------------------------------------------------------------
SVG_MARKS_JS = """
(svg) => {
  const marks = [];
  for (const el of svg.querySelectorAll("path, text")) {
    const r = el.getBoundingClientRect();
    let legend = null;
    if (el.tagName === "path" && el.hasAttribute("transform")) {
      const text = el.parentNode && el.parentNode.parentNode && el.parentNode.parentNode.querySelector("text");
      legend = text ? text.textContent : null;
    }
    marks.push({
      tag: el.tagName, d: el.getAttribute("d"), fill: el.getAttribute("fill"), stroke: el.getAttribute("stroke"),
      transform: el.getAttribute("transform"), anchor: el.getAttribute("text-anchor"), text: el.textContent,
      legend, x: r.left, y: r.top, w: r.width, h: r.height,
    });
  }
  return marks;
}
"""

TABLE_JS = """
(table) => ({
  head: Array.from(table.tHead.rows[0].cells).map((c) => c.textContent.trim()),
  rows: Array.from(table.tBodies[0].rows).map((r) => Array.from(r.cells).map((c) => c.textContent.trim())),
})
"""


def _bars(marks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Filled rectangles of a chart's marks: filled paths that carry no transform of their own (legend symbols do)."""
    return [m for m in marks if m["tag"] == "path" and m["fill"] not in (None, "none") and not m["transform"]]


def _proportional(sizes: list[float], values: list[int], what: str) -> None:
    """Bar lengths are proportional to the values (one linear scale from zero)."""
    assert len(sizes) == len(values), f"{what}: {len(sizes)} marks for {len(values)} table rows"
    k = max(sizes) / max(values) if max(values) else 0.0
    for size, value in zip(sizes, values, strict=True):
        assert abs(size - k * value) <= max(0.15, 0.01 * size), f"{what}: mark {size:.2f}px for value {value}"


def _label_matches(label: str, cell: str) -> bool:
    """An axis label is the table's label, or a truncation of it ending in an ellipsis."""
    return label == cell or (label.endswith("…") and cell.startswith(label[:-1].rstrip()))


def _row_texts(marks: list[dict[str, Any]], bars: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """For each horizontal bar, its axis label (left of the plot) and its value label (right of the bar's end)."""
    texts = [m for m in marks if m["tag"] == "text"]
    plot_left = min(b["x"] for b in bars)
    out = []
    for bar in bars:
        beside = [t for t in texts if bar["y"] - 1 <= t["y"] + t["h"] / 2 <= bar["y"] + bar["h"] + 1]
        labels = [t["text"] for t in beside if t["x"] + t["w"] <= plot_left + 0.5]
        values = [t["text"] for t in beside if t["x"] >= bar["x"] + bar["w"] - 0.5]
        assert len(labels) == 1 and len(values) == 1, (bar, labels, values)
        out.append((labels[0], values[0]))
    return out


def check_bar_chart(marks: list[dict[str, Any]], table: dict[str, Any], what: str) -> None:
    bars = sorted(_bars(marks), key=lambda m: m["y"])
    values = [number(row[1]) for row in table["rows"]]
    _proportional([b["w"] for b in bars], values, what)
    for (label, value), row in zip(_row_texts(marks, bars), table["rows"], strict=True):
        assert _label_matches(label, row[0]), f"{what}: axis label {label!r} for table row {row[0]!r}"
        assert value == row[1], f"{what}: {row[0]!r} is {row[1]} in the table, {value} in the chart"


def check_waterfall(marks: list[dict[str, Any]], table: dict[str, Any], what: str) -> None:
    bars = sorted(_bars(marks), key=lambda m: m["y"])
    values = [number(row[1]) for row in table["rows"]]
    _proportional([b["w"] for b in bars], values, what)
    for (label, value), row in zip(_row_texts(marks, bars), table["rows"], strict=True):
        minus = row[0].startswith("− ")
        assert _label_matches(label, row[0].removeprefix("− ")), f"{what}: {label!r} vs {row[0]!r}"
        assert value == ("−" if minus else "") + row[1], f"{what}: {row[0]!r} is {row[1]} in the table, {value}"


def check_stacked_days(marks: list[dict[str, Any]], table: dict[str, Any], what: str) -> None:
    """Daily stacked bars: per day, each category's segment and the whole stack match the table."""
    legend = {m["fill"]: m["legend"] for m in marks if m["tag"] == "path" and m["transform"] and m["legend"]}
    column = {label: i for i, label in enumerate(table["head"])}
    assert legend and all(label in column for label in legend.values()), (what, legend, table["head"])
    by_x: dict[float, list[dict[str, Any]]] = {}
    for bar in _bars(marks):
        if bar["fill"] in legend:
            by_x.setdefault(round(bar["x"], 1), []).append(bar)
    rows = [row for row in table["rows"] if number(row[column["Total"]]) > 0]
    stacks = [by_x[x] for x in sorted(by_x)]
    _proportional([sum(b["h"] for b in s) for s in stacks], [number(r[column["Total"]]) for r in rows], what)
    k = max(sum(b["h"] for b in s) for s in stacks) / max(number(r[column["Total"]]) for r in rows)
    for stack, row in zip(stacks, rows, strict=True):
        for bar in stack:
            value = number(row[column[legend[bar["fill"]]]])
            assert abs(bar["h"] - k * value) <= max(0.15, 0.01 * bar["h"]), f"{what} {row[0]}: {legend[bar['fill']]}"


_PATH_COMMAND = re.compile(r"([MLCZ])([^MLCZ]*)")
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e-?\d+)?")


def line_knots(d: str) -> list[tuple[float, float]]:
    """The points a Vega line passes through: M and L points, and the end point of each C curve."""
    knots = []
    for command, args in _PATH_COMMAND.findall(d):
        nums = [float(n) for n in _NUMBER.findall(args)]
        if command in "ML":
            knots += [(nums[i], nums[i + 1]) for i in range(0, len(nums) - 1, 2)]
        elif command == "C":
            knots += [(nums[i + 4], nums[i + 5]) for i in range(0, len(nums) - 5, 6)]
    return knots


def check_mirror_lines(marks: list[dict[str, Any]], daily: dict[str, Any], releases: dict[str, Any], what: str) -> None:
    """Mirror vs the rest per day: line points match the daily table; release labels match the releases table."""
    column = {label: i for i, label in enumerate(daily["head"])}
    mirror = [number(r[column["Mirrors and proxies"]]) for r in daily["rows"]]
    rest = [number(r[column["Total"]]) - m for r, m in zip(daily["rows"], mirror, strict=True)]
    legend = {m["stroke"]: m["legend"] for m in marks if m["tag"] == "path" and m["transform"] and m["legend"]}
    series = {"Mirrors and proxies": mirror, "Everything else": rest}
    assert set(legend.values()) == set(series), (what, legend)
    lines = [m for m in marks if m["tag"] == "path" and not m["transform"] and m["stroke"] in legend]
    points = {label: [] for label in series}
    for line in lines:
        points[legend[line["stroke"]]] += line_knots(line["d"])
    all_y = [y for pts in points.values() for _, y in pts]
    all_v = [v for label in series for v in series[label]]
    for label, values in series.items():
        pts = sorted(points[label])
        assert len(pts) == len(values), f"{what}: {label}: {len(pts)} points for {len(values)} days"
    # One linear scale from zero: y = base - k * value. Fit it on the extremes, then check every point.
    k = (max(all_y) - min(all_y)) / (max(all_v) - min(all_v))
    base = max(all_y) + k * min(all_v)
    for label, values in series.items():
        for (_, y), value in zip(sorted(points[label]), values, strict=True):
            assert abs((base - y) - k * value) <= 0.15, f"{what}: {label} point at {y} for {value}"
    versions = {row[0] for row in releases["rows"]}
    # Release labels are written down along their rules (rotated, right-aligned); the axis title is centred.
    labels = [
        m["text"]
        for m in marks
        if m["tag"] == "text" and "rotate" in (m["transform"] or "") and m["anchor"] != "middle"
    ]
    for label in labels:
        assert any(_label_matches(label, v) for v in versions), f"{what}: release label {label!r} not in the table"


def test_charts_are_visible_named_and_match_their_tables(browser, served: str) -> None:  # noqa: F811
    context, rec = new_context(browser, served, viewport=DESKTOP)
    page = context.new_page()
    # The SVG and tables do not depend on where the site is served: under the sub-path, one package is enough.
    for project in PACKAGES if SUBPATH not in served else PACKAGES[:1]:
        check_package_charts(visit(page, package_url(served, project), rec), project)
    rec.assert_clean("charts")
    context.close()


def check_package_charts(page: Any, project: str) -> None:
    from playwright.sync_api import expect

    charts = page.locator("svg[role=img]")
    assert charts.count() >= 12
    tables = {
        t.get_attribute("id"): t.evaluate(TABLE_JS)
        for t in page.locator("table").all()  # the daily table sits in a closed <details>: still in the DOM
    }
    checked = Counter()
    for svg in charts.all():
        title = svg.locator("title").first.text_content() or ""
        desc = svg.locator("desc").first.text_content() or ""
        chart_id = (svg.get_attribute("aria-labelledby") or "").split()[0].removesuffix("-title")
        expect(svg).to_be_visible()
        box = svg.bounding_box()
        assert box and box["width"] > 200 and box["height"] > 50, (chart_id, box)
        assert title.strip() and desc.strip(), chart_id
        # Named by aria-labelledby="<title> <desc>" (generator.charts): the title, then the one-line summary.
        expect(svg).to_have_accessible_name(" ".join(f"{title} {desc}".split()))
        figure = svg.locator("xpath=ancestor::figure[1]")
        table_id = figure.locator("table").first.get_attribute("id")
        assert table_id in tables, chart_id
        marks = svg.evaluate(SVG_MARKS_JS)
        what = f"{project} {chart_id}"
        if chart_id == "chart-waterfall":
            check_waterfall(marks, tables[table_id], what)
        elif chart_id == "chart-daily":
            check_stacked_days(marks, tables[table_id], what)
        elif chart_id == "chart-mirrors":
            check_mirror_lines(marks, tables["daily"], tables[table_id], what)
        else:
            check_bar_chart(marks, tables[table_id], what)
        checked[chart_id if chart_id in ("chart-waterfall", "chart-daily", "chart-mirrors") else "bars"] += 1
    assert checked["chart-waterfall"] == checked["chart-daily"] == checked["chart-mirrors"] == 1, checked
    assert checked["bars"] >= 9, checked


# -- looks: schemes, widths, overflow -------------------------------------------------------------
def _luminance(css: str) -> float:
    r, g, b = (int(v) / 255 for v in re.findall(r"\d+", css)[:3])
    lin = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def _contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_screenshots_light_and_dark_at_desktop_and_phone(
    browser,  # noqa: F811
    served_root: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    out = tmp_path_factory.mktemp("screenshots")
    project = PACKAGES[0]
    colours = {}
    for scheme in ("light", "dark"):
        for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            context, rec = new_context(browser, served_root, viewport=viewport, color_scheme=scheme)
            page = open_page(context, package_url(served_root, project), rec)
            path = out / f"{project}-{scheme}-{name}.png"
            page.screenshot(path=str(path), full_page=True)
            assert path.stat().st_size > 20_000, path
            style = page.evaluate(
                """() => {
                  const body = getComputedStyle(document.body);
                  const ink = getComputedStyle(document.querySelector("svg[role=img] text"));
                  return {bg: body.backgroundColor, fg: body.color, ink: ink.fill};
                }"""
            )
            colours[scheme] = style
            assert style["ink"] == style["fg"], f"{scheme}: chart text does not follow the page's text colour"
            assert _contrast(style["fg"], style["bg"]) >= 7, (scheme, style)
            rec.assert_clean(f"{scheme} {name}")
            context.close()
    assert colours["light"]["bg"] != colours["dark"]["bg"], colours
    print(f"screenshots in {out}")


OVERFLOW_JS = """
() => {
  const width = document.documentElement.clientWidth;
  const scrollers = ".table-wrap, pre, .prose table";
  const offenders = [];
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.right <= width + 0.5) continue;
    const scroller = el.parentElement && el.parentElement.closest(scrollers);
    if (scroller) continue;  // scrolls inside its own focusable region, by design
    offenders.push(`${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}.${el.className} right=${box.right}`);
  }
  // A table squeezed into the phone's width, one letter per line, does not overflow but cannot be read.
  const squeezed = Array.from(document.querySelectorAll("th, td"))
    .filter((c) => c.textContent.trim().length >= 6 && c.checkVisibility() && c.getBoundingClientRect().width < 64)
    .map((c) => `${c.closest("table").id}: ${c.textContent.trim().slice(0, 30)}`);
  return {scrollWidth: document.documentElement.scrollWidth, width, offenders: offenders.slice(0, 8),
          squeezed: squeezed.slice(0, 8)};
}
"""


def test_no_horizontal_overflow_at_375px(browser, served: str, demo_site: Path) -> None:  # noqa: F811
    context, rec = new_context(browser, served, viewport=PHONE)
    page = context.new_page()
    for rel in site_pages(demo_site):
        result = visit(page, served + rel, rec).evaluate(OVERFLOW_JS)
        assert result["scrollWidth"] <= result["width"] and not result["offenders"], (rel, result)
        assert not result["squeezed"], (rel, result["squeezed"])
    rec.assert_clean("375px")
    context.close()


# -- the 404 page ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def site_under_prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-package site whose [site].base_url puts it under SUBPATH, as on GitHub Pages."""
    from conftest import event, run_cli, write_config, write_events

    work = tmp_path_factory.mktemp("prefixed-404")
    events = write_events(work / "events", [event("2026-10-01"), event("2026-10-02", installer="uv")])
    cfg = write_config(work / "stats.toml", events, ["acme"], "2026-10-02", history_days=10)
    text = cfg.read_text(encoding="utf-8").replace(
        "[site]\n", f'[site]\nbase_url = "https://stats.example.test{SUBPATH}"\n'
    )
    cfg.write_text(text, encoding="utf-8")
    proc = run_cli("build", "--config", str(cfg), "--out", str(work / "site"))
    assert proc.returncode == 0, proc.stderr
    return work / "site"


@pytest.mark.parametrize("missing", ["nope.html", "packages/nope/deeper/page.html"])
def test_the_404_page_is_styled_and_leads_home_from_any_depth(
    browser,  # noqa: F811
    site_under_prefix: Path,
    missing: str,
) -> None:
    with serving(site_under_prefix, prefix=SUBPATH) as base_url:
        context, rec = new_context(browser, base_url)
        page = context.new_page()
        response = page.goto(base_url + missing, wait_until="load")
        settle(page, rec)
        assert response is not None and response.status == 404
        assert page.get_by_role("heading", level=1).inner_text() == "Page not found"
        # The stylesheet and icon came from the site's base path, whatever the depth of the address.
        assert base_url + "style.css" in rec.finished and base_url + "favicon.svg" in rec.finished
        assert page.evaluate("getComputedStyle(document.body).fontFamily") != "Times New Roman"
        # The document's own 404 is the only error, reported once by the server and once by the console.
        assert rec.bad_status == [f"404 {base_url}{missing}"]
        assert rec.console == ["error: Failed to load resource: the server responded with a status of 404 (Not Found)"]
        rec.bad_status.clear()
        rec.console.clear()
        rec.assert_clean(missing)
        before = Counter(rec.finished)
        page.get_by_role("link", name="list of packages").click()
        page.wait_for_load_state("load")
        settle(page, rec, before)
        assert page.url == base_url + "index.html"
        assert page.get_by_role("link", name="acme", exact=True).is_visible()
        rec.assert_clean("index after 404")
        context.close()


# -- accessibility --------------------------------------------------------------------------------
# axe, keyboard order and screenshots look at the DOM, which is the same under any prefix: root only.
def test_axe_finds_no_serious_or_critical_violations(browser, served_root: str) -> None:  # noqa: F811
    from axe_playwright_python.sync_playwright import Axe

    axe = Axe()
    served = served_root
    context, rec = new_context(browser, served, viewport=DESKTOP)
    report = []
    page = context.new_page()
    for url in [served, package_url(served, PACKAGES[0])]:
        results = axe.run(visit(page, url, rec))
        for v in results.response["violations"]:
            if v["impact"] in ("serious", "critical"):
                targets = [n["target"] for n in v["nodes"][:3]]
                report.append(f"{url}: {v['id']} ({v['impact']}): {v['help']} at {targets}")
    assert not report, "\n".join(report)
    context.close()


FOCUSABLE_JS = """
() => {
  const all = Array.from(document.querySelectorAll("a[href], [tabindex]:not([tabindex='-1']), summary, button, input"));
  // Not hidden, and not inside a closed <details> (whose content Chromium keeps laid out but unfocusable).
  const shown = all.filter((el) => el.checkVisibility() && !el.closest("details:not([open]) > :not(summary)"));
  shown.forEach((el, i) => { el.dataset.focusOrder = String(i); });
  return shown.length;
}
"""

ACTIVE_JS = """
() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  return {order: el.dataset.focusOrder ?? null, tag: el.tagName.toLowerCase(), text: el.textContent.trim().slice(0, 40),
          outline: style.outlineStyle, outlineWidth: style.outlineWidth, region: el.getAttribute("role"),
          hash: location.hash};
}
"""


def _tab_through(page: Any, limit: int) -> list[dict[str, Any]]:
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        active = page.evaluate(ACTIVE_JS)
        if active["tag"] == "body" or (seen and active["order"] == seen[0]["order"]):
            break
        seen.append(active)
    return seen


@pytest.mark.parametrize("which", ["index", "package"])
def test_keyboard_focus_follows_reading_order(browser, served_root: str, which: str) -> None:  # noqa: F811
    served = served_root
    context, rec = new_context(browser, served, viewport=DESKTOP)
    page = open_page(context, served if which == "index" else package_url(served, PACKAGES[0]), rec)
    expected = page.evaluate(FOCUSABLE_JS)
    seen = _tab_through(page, expected + 5)
    orders = [s["order"] for s in seen]
    assert None not in orders, [s for s in seen if s["order"] is None]
    assert [int(o) for o in orders] == list(range(expected)), "focus skips or jumps: " + str(orders)
    assert seen[0]["text"] == "Skip to content"
    assert all(s["outline"] != "none" and s["outlineWidth"] != "0px" for s in seen), "focus is not visible"
    regions = [s for s in seen if s["region"] == "region"]
    if which == "index":
        assert len(regions) == 1
        assert {s["text"] for s in seen if s["tag"] == "a"} >= set(PACKAGES)
    else:
        assert len(regions) >= 14, "every data table's scroll region is reachable by keyboard"
    for region in page.locator("[role=region]").all():
        if region.is_visible():
            caption = page.locator(f"#{region.get_attribute('aria-labelledby')}").inner_text()
            from playwright.sync_api import expect

            expect(region).to_have_accessible_name(caption)
    # The skip link moves focus past the header to the main content.
    page.goto(page.url, wait_until="load")
    page.evaluate(FOCUSABLE_JS)
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("location.hash") == "#main"
    page.keyboard.press("Tab")
    first_in_main = page.evaluate("document.activeElement.closest('main') !== null")
    assert first_in_main, page.evaluate(ACTIVE_JS)
    rec.assert_clean(which)
    context.close()


def test_wide_tables_scroll_by_keyboard_on_a_phone(browser, served: str) -> None:  # noqa: F811
    context, rec = new_context(browser, served, viewport=PHONE)
    page = open_page(context, package_url(served, PACKAGES[0]), rec)
    region = page.locator("#sources").locator("xpath=ancestor::div[@role='region'][1]")
    assert region.evaluate("el => el.scrollWidth > el.clientWidth"), "the sources table fits: nothing to scroll"
    region.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("End")
    page.wait_for_function("el => el.scrollLeft > 0", arg=region.element_handle())
    rec.assert_clean("phone tables")
    context.close()


# -- without JavaScript ---------------------------------------------------------------------------
def test_pages_work_without_javascript(browser, served: str, demo_site: Path) -> None:  # noqa: F811
    context, rec = new_context(browser, served, java_script_enabled=False, viewport=DESKTOP)
    page = context.new_page()
    for project in PACKAGES[:2] if SUBPATH not in served else PACKAGES[:1]:
        html = (demo_site / "packages" / project / "index.html").read_text(encoding="utf-8")
        visit(page, package_url(served, project), rec)
        counts = page.evaluate(
            "() => ({figure: document.querySelectorAll('figure').length,"
            " svg: document.querySelectorAll('svg[role=img]').length,"
            " table: document.querySelectorAll('table').length, script: document.scripts.length})"
        )
        assert counts == {
            "figure": html.count("<figure"),
            "svg": len(re.findall(r"<svg\b[^>]*role=\"img\"", html)),
            "table": html.count("<table"),
            "script": 0,
        }, project
        for svg in page.locator("svg[role=img]").all():
            assert svg.is_visible()
        for table in page.locator("table").all():
            if not table.is_visible():  # inside a closed <details>: opening it needs no script
                table.locator("xpath=ancestor::details[1]/summary").click()
            assert table.is_visible(), table.get_attribute("id")
    rec.assert_clean("without JavaScript")
    context.close()
