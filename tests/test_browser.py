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
from generator.drawing import HONEST_COLOR as _HONEST

HONEST_COLOR = _HONEST.lower()

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
    assert "index.html" in pages
    assert [p for p in PACKAGES if f"packages/{p}/index.html" not in pages] == []
    context, rec = new_context(browser, served)
    page = context.new_page()
    for rel in pages:
        visit(page, served + rel, rec)
        assert page.title(), rel
        rec.assert_clean(rel)
    context.close()
    assert any(u.endswith("/style.css") for u in rec.requests), "the stylesheet was never requested"
    assert [u for u in rec.requests if not u.startswith(served)] == []


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
      width: el.getAttribute("stroke-width"),
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


def check_honest_lines(marks: list[dict[str, Any]], daily: dict[str, Any], what: str) -> None:
    """The thin blue line is the daily table's honest column: one point per held day, one linear scale."""
    column = {label: i for i, label in enumerate(daily["head"])}
    values = [number(r[column["Honest installs"]]) for r in daily["rows"]]
    thin = [
        m for m in marks if m["tag"] == "path" and (m["stroke"] or "").lower() == HONEST_COLOR and m["width"] == "1"
    ]
    points = sorted(p for line in thin for p in line_knots(line["d"]))
    assert len(points) == len(values), f"{what}: {len(points)} points for {len(values)} days"
    ys = [y for _, y in points]
    k = (max(ys) - min(ys)) / (max(values) - min(values))
    base = max(ys) + k * min(values)
    for (_, y), value in zip(points, values, strict=True):
        assert abs((base - y) - k * value) <= 0.15, f"{what}: honest point at {y} for {value}"


def check_bar_rows(page: Any, table_id: str, what: str) -> None:
    """A table drawn with CSS bars: each bar's length is its row's value over the table's scale."""
    rows = page.evaluate(
        """(id) => Array.from(document.getElementById(id).tBodies[0].rows).map((r) => {
             const bar = r.querySelector(".bar"), track = r.querySelector(".barcol");
             const b = bar.getBoundingClientRect(), t = track.getBoundingClientRect();
             const css = getComputedStyle(track);
             const pad = parseFloat(css.paddingLeft) + parseFloat(css.paddingRight);
             return {w: b.width / (t.width - pad), value: r.cells[2].textContent.trim()};
           })""",
        table_id,
    )
    values = [abs(number(r["value"])) for r in rows]
    top = max(values)
    for row, value in zip(rows, values, strict=True):
        assert abs(row["w"] - value / top) <= 0.011 + (0.01 if value else 0), f"{what}: {row} of {top}"


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

    visible = [svg for svg in page.locator("svg[role=img]").all() if svg.is_visible()]
    ids = [(svg.get_attribute("aria-labelledby") or "").split()[0].removesuffix("-title") for svg in visible]
    # The sparkline, the daily chart, and the two questions' share charts.
    assert ids == ["chart-spark", "chart-daily", "chart-python", "chart-versions"], (project, ids)
    tables = {t.get_attribute("id"): t.evaluate(TABLE_JS) for t in page.locator("table").all()}
    for svg in visible:
        title = svg.locator("title").first.text_content() or ""
        desc = svg.locator("desc").first.text_content() or ""
        chart_id = (svg.get_attribute("aria-labelledby") or "").split()[0].removesuffix("-title")
        box = svg.bounding_box()
        assert box is not None, chart_id
        assert box["width"] > 200, (chart_id, box)
        assert box["height"] > 40, (chart_id, box)
        assert title.strip(), chart_id
        assert desc.strip(), chart_id
        # Named by aria-labelledby="<title> <desc>" (generator.charts): the title, then the one-line summary.
        expect(svg).to_have_accessible_name(" ".join(f"{title} {desc}".split()))
        if chart_id == "chart-daily":
            check_honest_lines(svg.evaluate(SVG_MARKS_JS), tables["daily"], f"{project} {chart_id}")
    for table_id in ["waterfall", *(t for t in tables if t and t.startswith("breakdown-"))]:
        check_bar_rows(page, table_id, f"{project} {table_id}")


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


OVERFLOW_JS = r"""
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
  // A caption wider than the screen is cut off with its scrolling table ("…, 2026-" and nothing after).
  const cut = Array.from(document.querySelectorAll(".table-wrap caption"))
    .filter((c) => c.checkVisibility()
      && c.getBoundingClientRect().right > c.closest(".table-wrap").getBoundingClientRect().right + 0.5)
    .map((c) => c.textContent.trim().slice(0, 40));
  // A word broken across lines inside a table ("BigQuer/y", "Uploade/d"): one word, two line boxes.
  const broken = [];
  for (const cell of document.querySelectorAll("th, td, caption")) {
    if (!cell.checkVisibility()) continue;
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      for (const m of node.textContent.matchAll(/[^\s\-\u2013\/]+/g)) {
        const range = document.createRange();
        range.setStart(node, m.index);
        range.setEnd(node, m.index + m[0].length);
        const tops = new Set(Array.from(range.getClientRects()).map((r) => Math.round(r.top)));
        if (tops.size > 1) broken.push(`${cell.closest("table")?.id || ""}: ${m[0]}`);
      }
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, width, offenders: offenders.slice(0, 8),
          squeezed: squeezed.slice(0, 8), cut: cut.slice(0, 8), broken: broken.slice(0, 8)};
}
"""


def test_no_horizontal_overflow_at_375px(browser, served: str, demo_site: Path) -> None:  # noqa: F811
    context, rec = new_context(browser, served, viewport=PHONE)
    page = context.new_page()
    for rel in site_pages(demo_site):
        result = visit(page, served + rel, rec).evaluate(OVERFLOW_JS)
        assert result["scrollWidth"] <= result["width"], (rel, result)
        assert not result["offenders"], (rel, result)
        assert not result["squeezed"], (rel, result["squeezed"])
        assert not result["cut"], (rel, "captions cut off with their table", result["cut"])
        assert not result["broken"], (rel, "words broken inside", result["broken"])
    rec.assert_clean("375px")
    context.close()


def test_the_matrix_shows_every_source_at_1280px(browser, served_root: str) -> None:  # noqa: F811
    """On a desktop the reconciliation matrix needs no sideways scroll (its scroll cue is only shown below 72rem)."""
    context, rec = new_context(browser, served_root, viewport=DESKTOP)
    page = open_page(context, package_url(served_root, PACKAGES[0]), rec)
    region = page.locator(".matrix-wrap")
    widths = region.evaluate("el => [el.scrollWidth, el.clientWidth]")
    assert widths[0] <= widths[1], f"the matrix scrolls at 1280 px with no cue shown: {widths}"
    assert not page.locator(".scroll-cue").is_visible()
    rec.assert_clean("desktop matrix")
    context.close()


# -- the 404 page ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def site_under_prefix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-package site whose [site].base_url puts it under SUBPATH, as on GitHub Pages."""
    from conftest import event, run_cli, write_config, write_events

    work = tmp_path_factory.mktemp("prefixed-404")
    events = write_events(work / "events", [event("2026-10-01"), event("2026-10-02", installer="uv")])
    cfg = write_config(work / "stats.toml", events, ["acme"], "2026-10-02", history_days=30)
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
        assert response is not None
        assert response.status == 404
        assert page.get_by_role("heading", level=1).inner_text() == "Page not found"
        # The stylesheet and icon came from the site's base path, whatever the depth of the address.
        assert base_url + "style.css" in rec.finished
        assert base_url + "favicon.svg" in rec.finished
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
    unseen = [s for s in seen if s["outline"] == "none" or s["outlineWidth"] == "0px"]
    assert unseen == [], "focus is not visible"
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
    region = page.locator("#matrix").locator("xpath=ancestor::div[@role='region'][1]")
    assert region.evaluate("el => el.scrollWidth > el.clientWidth"), "the matrix fits: nothing to scroll"
    assert page.locator(".scroll-cue").is_visible(), "nothing says the matrix scrolls"
    region.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("End")
    page.wait_for_function("el => el.scrollLeft > 0", arg=region.element_handle())
    # The rule names stay in view while the sources scroll under them.
    left = page.evaluate(
        """() => [document.querySelector("#matrix tbody th").getBoundingClientRect().left,
                  document.querySelector(".matrix-wrap").getBoundingClientRect().left]"""
    )
    assert abs(left[0] - left[1]) <= 1, left
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


# -- the first screen, and chart text at phone and desktop widths ----------------------------------
FIRST_SCREENS = {"phone": {"width": 375, "height": 740}, "desktop": {"width": 1280, "height": 800}}

FIRST_SCREEN_JS = """
() => {
  const within = (el) => { const r = el.getBoundingClientRect(); return r.height > 0 && r.bottom <= innerHeight; };
  const pick = (sel) => {
    const el = document.querySelector(sel);
    return el ? {text: el.textContent.trim().replace(/\\s+/g, " "), seen: within(el)} : null;
  };
  const others = Array.from(document.querySelectorAll("dl.others > div")).map((d) => ({
    who: d.querySelector("dt").textContent.trim(), value: d.querySelector("dd strong").textContent.trim(),
    seen: within(d)}));
  return {h1: pick("h1"), figure: pick(".first .figure"), trend: pick(".first .trend"), why: pick(".first .why"),
          spark: pick(".first svg.spark"), others, text: document.querySelector(".first").textContent};
}
"""


@pytest.mark.parametrize("size", list(FIRST_SCREENS), ids=list(FIRST_SCREENS))
def test_the_first_screen_answers_the_question(browser, served_root: str, demo_site: Path, size: str) -> None:  # noqa: F811
    """Before any scrolling: the honest number and its trend, pypistats.org's and pepy/ClickPy's figures, and why."""
    from test_build import source_figures

    context, rec = new_context(browser, served_root, viewport=FIRST_SCREENS[size])
    page = context.new_page()
    for project in PACKAGES:
        first = visit(page, package_url(served_root, project), rec).evaluate(FIRST_SCREEN_JS)
        figures = source_figures(demo_site, project)
        pypistats = figures["pypistats.org without mirrors (and recent: last_month) last 30 days"]
        clickpy = next(v for k, v in figures.items() if k.startswith("ClickPy and pepy"))
        for part in ("h1", "figure", "trend", "why", "spark"):
            assert first[part], f"{project} at {size}: {part} is not on the page"
            assert first[part]["seen"], f"{project} at {size}: {part} is below the first screen"
        assert first["h1"]["text"] == project
        assert number(first["figure"]["text"]) == figures["Honest number (this site) | last 30 days"]
        assert re.fullmatch(r"[↑↓→] (Up|Down|Flat) .*previous 30 days.*", first["trend"]["text"]), first["trend"]
        shown = {o["who"]: (number(o["value"]), o["seen"]) for o in first["others"]}
        assert shown == {"pypistats.org shows": (pypistats, True), "pepy and ClickPy count": (clickpy, True)}
        assert first["why"]["text"].startswith(f"pypistats.org shows {pypistats:,}: it also counts ")
        # Plain words only: no SQL, no environment variables, no zero caveats.
        for jargon in ("COUNT(*)", "PIP_IS_CI", "BUILD_ID", " 0 "):
            assert jargon not in first["text"], f"{project} at {size}: {jargon!r} on the first screen"
    rec.assert_clean(f"first screen {size}")
    context.close()


CHART_TEXT_JS = """
() => {
  const out = [];
  for (const svg of document.querySelectorAll("svg[role=img]")) {
    if (!svg.checkVisibility()) continue;
    const box = svg.getBoundingClientRect();
    const scale = svg.viewBox.baseVal && svg.viewBox.baseVal.width ? box.width / svg.viewBox.baseVal.width : 1;
    const texts = Array.from(svg.querySelectorAll("text")).filter((t) => t.textContent.trim()).map((t) => {
      const r = t.getBoundingClientRect();
      return {text: t.textContent, x: r.left, y: r.top, r: r.right, b: r.bottom,
              px: parseFloat(getComputedStyle(t).fontSize) * scale};
    });
    const edges = {x: box.left, y: box.top, r: box.right, b: box.bottom};
    out.push({id: svg.getAttribute("aria-labelledby"), box: edges, texts});
  }
  return out;
}
"""


@pytest.mark.parametrize("size", list(FIRST_SCREENS), ids=list(FIRST_SCREENS))
def test_chart_text_is_inside_apart_and_large_enough(browser, served_root: str, size: str) -> None:  # noqa: F811
    """Every label of every visible chart: inside its SVG, overlapping no other label, at least 11 CSS px."""
    context, rec = new_context(browser, served_root, viewport=FIRST_SCREENS[size])
    page = context.new_page()
    for project in PACKAGES:
        svgs = visit(page, package_url(served_root, project), rec).evaluate(CHART_TEXT_JS)
        assert sum(len(s["texts"]) for s in svgs) >= 10, f"{project}: no chart text to check"
        for svg in svgs:
            what, box, texts = f"{project} {svg['id']} at {size}", svg["box"], svg["texts"]
            for t in texts:
                edges = {
                    "left": t["x"] >= box["x"] - 0.5,
                    "right": t["r"] <= box["r"] + 0.5,
                    "top": t["y"] >= box["y"] - 0.5,
                    "bottom": t["b"] <= box["b"] + 0.5,
                }
                clipped = [edge for edge, inside in edges.items() if not inside]
                assert clipped == [], f"{what}: {t['text']!r} is clipped: {t} not in {box}"
                assert t["px"] >= 11, f"{what}: {t['text']!r} is {t['px']:.1f} px"
            for i, a in enumerate(texts):
                for b in texts[i + 1 :]:
                    apart = (
                        a["r"] <= b["x"] + 0.5
                        or b["r"] <= a["x"] + 0.5
                        or a["b"] <= b["y"] + 0.5
                        or b["b"] <= a["y"] + 0.5
                    )
                    assert apart, f"{what}: {a['text']!r} overlaps {b['text']!r}"
        assert not re.search(r"[−-]0(?![.,\d])", page.inner_text("main")), f"{project}: a '−0' on the page"
    rec.assert_clean(f"chart text {size}")
    context.close()


KEY_JS = """
() => [...document.querySelectorAll("figure.chart")]
  .filter(f => f.querySelector("ul.key") && f.querySelector("svg"))
  .map(f => {
    const box = e => { const r = e.getBoundingClientRect(); return {x: r.left, y: r.top, r: r.right, b: r.bottom}; };
    const items = [...f.querySelectorAll("ul.key li")].map(li => ({text: li.textContent, ...box(li)}));
    return {id: f.querySelector("svg").getAttribute("aria-labelledby"), key: box(f.querySelector("ul.key")),
            chart: box(f.querySelector("svg")), items};
  })
"""


@pytest.mark.parametrize("size", list(FIRST_SCREENS), ids=list(FIRST_SCREENS))
def test_a_charts_key_sits_above_it_and_apart(browser, served_root: str, size: str) -> None:  # noqa: F811
    """The key above a chart (its lines' and colours' names) is laid out as a list of its own: every entry
    inside it, no two overlapping, and the whole key above the chart, not drawn over it (a rule meant for
    the index's colour chips once squeezed it into a 0.7 em box)."""
    context, rec = new_context(browser, served_root, viewport=FIRST_SCREENS[size])
    page = context.new_page()
    figures = visit(page, package_url(served_root, PACKAGES[0]), rec).evaluate(KEY_JS)
    assert len(figures) >= 3, "the honest chart and the two questions' charts have keys"
    for fig in figures:
        what, key, items = f"{fig['id']} at {size}", fig["key"], fig["items"]
        assert key["b"] <= fig["chart"]["y"] + 0.5, f"{what}: the key {key} runs into the chart {fig['chart']}"
        for item in items:
            inside = item["x"] >= key["x"] - 0.5 and item["r"] <= key["r"] + 0.5 and item["b"] <= key["b"] + 0.5
            assert inside, f"{what}: {item['text']!r} spills out of its key {key}"
        for i, a in enumerate(items):
            for b in items[i + 1 :]:
                apart = (
                    a["r"] <= b["x"] + 0.5 or b["r"] <= a["x"] + 0.5 or a["b"] <= b["y"] + 0.5 or b["b"] <= a["y"] + 0.5
                )
                assert apart, f"{what}: {a['text']!r} overlaps {b['text']!r}"
    rec.assert_clean(f"chart keys {size}")
    context.close()
