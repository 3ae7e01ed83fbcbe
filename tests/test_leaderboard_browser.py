"""The leaderboard and the index in a real browser (Playwright driving Chromium), at 375 px and 1280 px.

- at 375 px and 1280 px the top page's first screen shows the first ranked rows;
- at 375 px the index keeps each package's name and its honest number in view, and the top page's
  essential columns (rank, project, installs) do not overflow the screen;
- at 1280 px the whole top table fits: nothing needs scrolling;
- the top pages load with no script, no console error and no request to another host.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser import (
    DESKTOP,
    PHONE,
    browser,  # noqa: F401 - fixture
    new_context,
    open_page,
    serving,
)
from leaderboard_fixtures import builder, generated
from test_browser import OVERFLOW_JS

from generator.leaderboard import Leaderboard

pytestmark = pytest.mark.browser

SCREENSHOTS = os.environ.get("LEADERBOARD_SCREENSHOTS", "")
"""A folder to keep the screenshots in, for a person to look at (none when unset)."""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two pages of 250 rows, the site's own acme at rank 2 under a long neighbour's name."""
    current = generated(300, name_length=32)
    rows = list(current.rows)
    rows[1] = dataclasses.replace(rows[1], project="acme")
    board = Leaderboard(
        current=dataclasses.replace(current, rows=tuple(rows)),
        earlier={1: generated(300, name_length=32, shift=2), 7: generated(300, name_length=32, shift=9)},
    )
    return builder(tmp_path_factory.mktemp("leaderboard-browser"))(board)


@pytest.fixture(scope="module")
def served(site: Path) -> Iterator[str]:
    with serving(site) as base_url:
        yield base_url


def shoot(page: Any, name: str) -> None:
    if SCREENSHOTS:
        Path(SCREENSHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}.png"))
        table = page.locator("table.lb").last
        table.scroll_into_view_if_needed()
        page.screenshot(path=str(Path(SCREENSHOTS) / f"{name}-table.png"))
        page.evaluate("() => window.scrollTo(0, 0)")


def in_view(page: Any, selector: str, width: int) -> list[str]:
    """The elements matching `selector` that are not wholly inside 0..width or are covered where they are."""
    return page.evaluate(
        """([selector, width]) => {
            const bad = [];
            for (const el of document.querySelectorAll(selector)) {
                const box = el.getBoundingClientRect();
                el.scrollIntoView({block: "center", inline: "nearest"});
                const at = el.getBoundingClientRect();
                const hit = document.elementFromPoint(at.left + Math.min(at.width / 2, 4), at.top + at.height / 2);
                if (box.left < 0 || box.right > width || !(hit && (hit === el || el.contains(hit)))) {
                    bad.push(el.textContent.trim() + " at " + Math.round(box.left) + ".." + Math.round(box.right));
                }
            }
            return bad;
        }""",
        [selector, width],
    )


def test_the_index_keeps_name_and_honest_number_in_view_at_375_px(browser, served: str) -> None:  # noqa: F811
    context, rec = new_context(browser, served, viewport=PHONE)
    page = open_page(context, f"{served}index.html", rec)
    shoot(page, "index-375")
    names = in_view(page, "#packages tbody th[scope=row] a", PHONE["width"])
    numbers = in_view(page, "#packages tbody td:nth-of-type(1)", PHONE["width"])
    context.close()
    assert (names, numbers) == ([], [])


def test_the_top_page_has_no_horizontal_overflow_of_its_essential_columns_at_375_px(browser, served: str) -> None:  # noqa: F811
    context, rec = new_context(browser, served, viewport=PHONE)
    page = open_page(context, f"{served}top/index.html", rec)
    shoot(page, "top-375")
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    essential = [
        in_view(page, f"#top tbody tr:nth-child(-n+40) {cell}", PHONE["width"])
        for cell in ("td:nth-of-type(1)", "th[scope=row] a", "td:nth-of-type(2)")
    ]
    context.close()
    assert overflow <= 0
    assert essential == [[], [], []]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["375px", "1280px"])
def test_the_first_screen_shows_who_ranks_first(browser, served: str, viewport: dict[str, int]) -> None:  # noqa: F811
    """The reader asks "who is on top?": the first rows' rank, name and installs are on the first screen,
    before the facts and the at-a-glance lists."""
    context, rec = new_context(browser, served, viewport=viewport)
    page = open_page(context, f"{served}top/index.html", rec)
    bottoms = page.evaluate(
        """() => [1, 2].map(n => document.querySelector(`#top tbody tr:nth-child(${n}) td:nth-of-type(2)`)
                                 .getBoundingClientRect().bottom)"""
    )
    context.close()
    assert max(bottoms) <= viewport["height"]


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["375px", "1280px"])
def test_the_index_s_first_screen_shows_the_first_package_s_number(browser, served: str, viewport) -> None:  # noqa: F811
    """The reader asks "how many installs?": the first package's name and number are on the first screen,
    before the key to the bar, which follows the table."""
    context, rec = new_context(browser, served, viewport=viewport)
    page = open_page(context, f"{served}index.html", rec)
    first = "#packages tbody tr:first-child td:nth-of-type(1)"
    bottom = page.evaluate(f"() => document.querySelector({first!r}).getBoundingClientRect().bottom")
    context.close()
    assert bottom <= viewport["height"]


@pytest.mark.parametrize("path", ["top/index.html", "top/page-2.html", "index.html"])
def test_at_1280_px_the_whole_table_fits(browser, served: str, path: str) -> None:  # noqa: F811
    context, rec = new_context(browser, served, viewport=DESKTOP)
    page = open_page(context, f"{served}{path}", rec)
    shoot(page, path.replace("/", "-").removesuffix(".html") + "-1280")
    hidden = page.evaluate(
        "() => [...document.querySelectorAll('.table-wrap')].map(w => w.scrollWidth - w.clientWidth).filter(d => d > 1)"
    )
    context.close()
    rec.assert_clean(path)
    assert hidden == []


def test_the_top_pages_need_no_script_and_ask_no_other_host(browser, served: str) -> None:  # noqa: F811
    context, rec = new_context(browser, served, viewport=DESKTOP, java_script_enabled=False)
    for path in ("top/index.html", "top/page-2.html"):
        page = open_page(context, f"{served}{path}", rec)
        assert page.locator("#top tbody tr").count() > 0
    context.close()
    rec.assert_clean("top pages")


@pytest.mark.parametrize("path", ["top/index.html", "top/page-2.html", "index.html"])
def test_at_375_px_nothing_overflows_is_squeezed_cut_or_broken(browser, served: str, path: str) -> None:  # noqa: F811
    """The demo site's phone checks (test_browser.OVERFLOW_JS) on the leaderboard's pages and the new index."""
    context, rec = new_context(browser, served, viewport=PHONE)
    result = open_page(context, f"{served}{path}", rec).evaluate(OVERFLOW_JS)
    context.close()
    assert result["scrollWidth"] <= result["width"], result
    assert result["offenders"] == [], result
    assert (result["squeezed"], result["cut"], result["broken"]) == ([], [], [])


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_serious_or_critical_violation_on_the_top_page(browser, served: str, scheme: str) -> None:  # noqa: F811
    from axe_playwright_python.sync_playwright import Axe

    context, rec = new_context(browser, served, viewport=DESKTOP, color_scheme=scheme)
    report = []
    for path in ("top/index.html", "index.html"):
        page = open_page(context, f"{served}{path}", rec)
        for v in Axe().run(page).response["violations"]:
            if v["impact"] in ("serious", "critical"):
                report.append(f"{path}: {v['id']}: {v['help']} at {[n['target'] for n in v['nodes'][:3]]}")
    context.close()
    assert report == []
