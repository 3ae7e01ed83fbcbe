"""Hostile and broken data: every string in an event is a forged user agent or upload, so build from events
whose strings carry HTML/JS payloads, formulas, control and bidi characters, NUL bytes and very long text.

They must come out as inert text: escaped in HTML, as <text> in SVG, neutralised in CSV, plain strings in JSON.
In a real browser no script from the data runs and no element is injected, with and without the CSP
that netlify.toml sets. Package names that try path traversal or SQL are refused before anything runs.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from browser import (
    DESKTOP,
    PHONE,
    ROOT,
    browser,  # noqa: F401 - fixture
    format_csp,
    netlify_headers,
    new_context,
    open_page,
    parse_csp,
    serving,
    site_pages,
    visit,
)
from conftest import event, run_cli, write_events

from generator import config, tables
from generator.errors import ConfigError
from generator.svg import check_safe

AS_OF = "2026-10-31"
DAYS = ("2026-10-29", "2026-10-30", "2026-10-31")

# name → payload. Every one goes into installer name, implementation, OS, distro, country code, file type and
# package version. Split over two packages so each breakdown's top 15 shows every payload by name.
PAYLOADS: dict[str, str] = {
    "script": "<script>alert('script')</script>",
    "img-onerror": '"><img src=x onerror=alert("img")>',
    "js-url": "javascript:alert('js-url')",
    "svg-in-text": '<svg onload=alert("svg")><text>svg</text></svg>',
    "svg-breakout": "</text></svg><script>alert('svg-breakout')</script><svg><text>",
    "attribute": "' onmouseover='alert(1)' data-x='",
    "comment": "--><script>alert('comment')</script><!--",
    "style": "<style>body{display:none}</style>",
    "iframe": '<iframe src="http://198.51.100.7/frame"></iframe>',
    "template": "{{ 7*7 }}{% if 1 %}x{% endif %}",
    "entity": "&lt;b&gt;already &amp; escaped",
    "formula-eq": '=HYPERLINK("http://198.51.100.7/","click")',
    "formula-plus": "+1+cmd|' /C calc'!A0",
    "formula-minus": "-2+3",
    "formula-at": "@SUM(A1:A9)",
    "formula-tab": "\t=1+1",
    "sql": "x'); DROP TABLE aggregates; --",
    "bidi": "\u202eexe.gnp\u202c \u2067isolate\u2069 \u200fmark",
    "nul": "nul\x00byte",
    "controls": "bell\x07esc\x1b[31mred\x7f c1\x85\x9b",
    "unicode": "пакет 中文 עברית 🙂 e\u0301",
    "long": "L" * 3000,
}
NAMES = list(PAYLOADS)
SPLIT = {"acme": NAMES[: len(NAMES) // 2], "beta": NAMES[len(NAMES) // 2 :]}
TITLE = "</title><script>alert('title')</script>"
DESCRIPTION = '"><script>alert("description")</script>'

# What the templates emit (HTML), plus the chart SVG allowlist: anything else was injected.
HTML_TAGS = {
    "html", "head", "meta", "title", "link", "body", "a", "header", "nav", "ul", "ol", "li", "main", "footer", "p",
    "strong", "em", "code", "pre", "h1", "h2", "h3", "h4", "section", "article", "div", "span", "table", "caption",
    "thead", "tbody", "tfoot", "tr", "th", "td", "figure", "figcaption", "details", "summary", "dl", "dt", "dd", "br",
    "hr", "sup", "sub", "abbr", "blockquote", "small", "time", "img",  # img: the site's own badges, checked below
}  # fmt: skip
SVG_TAGS = {"svg", "g", "path", "rect", "line", "circle", "text", "tspan", "title", "desc", "defs", "clippath"}
INJECTED_JS = (
    "() => Array.from(document.querySelectorAll('script, iframe, object, embed, img, style, foreignObject, "
    '[onerror], [onload], [onmouseover], [data-x], a[href^="javascript:" i]\'))'
    ".filter((e) => !(e.tagName === 'IMG' && /^(\\.\\.\\/)*badges\\/[a-z0-9/-]+\\.svg$/.test(e.getAttribute('src'))))"
    ".map((e) => e.outerHTML.slice(0, 80))"
)
HOVER_EVERYTHING_JS = """() => {
  for (const el of document.querySelectorAll("body *")) {
    for (const type of ["mouseover", "mouseenter", "focus", "click"]) {
      if (type === "click" && el.closest("a, summary, button")) continue;  // navigation is not the point
      el.dispatchEvent(new Event(type, {bubbles: true}));
    }
  }
}"""
BIDI = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def hostile_events() -> list[dict[str, Any]]:
    events = []
    for project, names in SPLIT.items():
        for day in DAYS:
            events.append(event(day=day, project=project, installer="pip"))
            for name in names:
                p = PAYLOADS[name]
                events.append(event(day=day, project=project, installer=p, iv=p, python=p))
                strings = dict.fromkeys(("implementation", "system", "distro", "country", "version", "file_type"), p)
                events.append(event(day=day, project=project, installer="pip", **strings))
    return events


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built through the CLI, from NDJSON events (NUL and control characters travel as JSON escapes)."""
    work = tmp_path_factory.mktemp("hostile")
    events = write_events(work / "events", hostile_events())
    cfg = work / "stats.toml"
    cfg.write_text(
        f'as_of = "{AS_OF}"\n[site]\ntitle = {json.dumps(TITLE)}\ndescription = {json.dumps(DESCRIPTION)}\n'
        f'[packages]\nnames = ["acme", "beta"]\n[source]\nkind = "local"\npath = "{events}"\nhistory_days = 30\n'
        f'[store]\npath = "{work / "store.duckdb"}"\n',
        encoding="utf-8",
    )
    proc = run_cli("build", "--config", str(cfg), "--out", str(work / "site"))
    assert proc.returncode == 0, proc.stderr
    return work / "site"


def shown(payload: str) -> str:
    """The payload as the site should show it: control and bidi characters gone, text otherwise intact."""
    return tables.clean_text(payload)


def text_files(site: Path) -> Iterator[tuple[Path, str]]:
    for path in sorted(site.rglob("*")):
        if path.is_file() and path.suffix not in (".parquet", ".png"):
            yield path, path.read_text(encoding="utf-8")


# -- the files ------------------------------------------------------------------------------------
def test_no_control_or_bidi_character_reaches_any_file(hostile_site: Path) -> None:
    for path, text in text_files(hostile_site):
        bad = {f"U+{ord(c):04X}" for c in text if (unicodedata.category(c) == "Cc" and c not in "\n\r\t") or c in BIDI}
        assert not bad, f"{path.relative_to(hostile_site)}: {sorted(bad)}"


class _Markup(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []
        self.text: list[str] = []
        self.svg_text: list[str] = []
        self._in_svg_text = 0
        self._in_title = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += [(tag, k, v or "") for k, v in attrs]
        if tag == "text":
            self._in_svg_text += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "text":
            self._in_svg_text -= 1

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._in_svg_text:
            self.svg_text.append(data)


def test_html_carries_the_payloads_as_escaped_text_only(hostile_site: Path) -> None:
    for rel in [*site_pages(hostile_site), "404.html"]:
        html = (hostile_site / rel).read_text(encoding="utf-8")
        page = _Markup()
        page.feed(html)
        unknown = set(page.tags) - HTML_TAGS - SVG_TAGS
        assert not unknown, f"{rel}: injected elements {unknown}"
        for tag, name, value in page.attrs:
            assert not name.startswith("on"), f"{rel}: <{tag} {name}=...> event handler"
            assert name not in ("style", "srcdoc", "data-x"), f"{rel}: <{tag} {name}=...>"
            if name in ("href", "src", "action", "xlink:href"):
                assert not re.match(r"\s*(javascript|data|vbscript):", value, re.I), f"{rel}: {tag} {name}={value}"
                if tag != "a":  # links may point anywhere; what a page loads must come from the site
                    assert not re.match(r"\s*(https?:)?//", value), f"{rel}: <{tag}> loads {value}"
                if tag == "img":
                    assert re.fullmatch(r"(\.\./)*badges/[a-z0-9/-]+\.svg", value), f"{rel}: <img src={value!r}>"
        text = "".join(page.text)
        assert TITLE in text, rel
        assert DESCRIPTION not in html, rel  # the title shows as text; the description is escaped
    for project, names in SPLIT.items():
        html = (hostile_site / "packages" / project / "index.html").read_text(encoding="utf-8")
        page = _Markup()
        page.feed(html)
        text = "".join(page.text)
        for name in names:
            assert shown(PAYLOADS[name]) in text, f"{project}: payload {name} is not shown as text"
        assert "<script" not in html.lower()
        assert "&lt;script&gt;" in html
        if "template" in names:  # data is never template source: no 49, no {% if %} evaluated
            assert shown(PAYLOADS["template"]) in text
            assert not re.search(r"\b49\b", text)


def test_chart_svg_is_well_formed_and_inert(hostile_site: Path) -> None:
    """The page's charts carry no data labels (breakdowns and the waterfall are HTML tables), but they
    must still parse as XML and pass the allowlist with the payloads in the store."""
    for project in SPLIT:
        html = (hostile_site / "packages" / project / "index.html").read_text(encoding="utf-8")
        svgs = re.findall(r"<svg\b.*?</svg>", html, flags=re.S)
        assert svgs  # the daily chart at least
        for svg in svgs:
            root = ET.fromstring(svg)  # well-formed XML: nothing broke out of a <text>
            check_safe(root)  # allowlisted elements, no handlers, no URLs


NUMBER = re.compile(r"[-+]?\d+(\.\d+)?([eE][-+]?\d+)?")


def test_csv_cells_cannot_start_a_formula(hostile_site: Path) -> None:
    cells_seen = set()
    for path in sorted(hostile_site.rglob("*.csv")):
        for row in csv.reader(io.StringIO(path.read_text(encoding="utf-8"))):
            for cell in row:
                cells_seen.add(cell)
                if cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
                    assert NUMBER.fullmatch(cell), f"{path.relative_to(hostile_site)}: formula cell {cell[:40]!r}"
    for name in ("formula-eq", "formula-plus", "formula-minus", "formula-at", "formula-tab"):
        assert "'" + shown(PAYLOADS[name]) in cells_seen, f"{name} not neutralised with a leading apostrophe"
    for name in ("script", "img-onerror", "sql", "long", "unicode"):
        assert shown(PAYLOADS[name]) in cells_seen, f"{name} is not in any CSV as plain text"


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def test_json_carries_the_payloads_as_plain_strings(hostile_site: Path) -> None:
    documents = {}
    for path, text in text_files(hostile_site):
        rel = path.relative_to(hostile_site).as_posix()
        if path.suffix == ".json" or rel.startswith("api/"):
            documents[rel] = json.loads(text)  # every JSON file parses
    assert documents
    for project, names in SPLIT.items():
        strings = set(_strings(documents[f"data/{project}.json"]))
        for name in names:
            assert shown(PAYLOADS[name]) in strings, f"data/{project}.json lacks payload {name} as a string"


# -- in the browser -------------------------------------------------------------------------------
@pytest.mark.browser
@pytest.mark.parametrize("csp", [False, True], ids=["no-csp", "netlify-csp"])
def test_no_script_from_the_data_runs_in_a_browser(browser, hostile_site: Path, csp: bool) -> None:  # noqa: F811
    """Escaping alone keeps the payloads inert (no CSP); with netlify.toml's CSP they would be blocked too."""
    headers = netlify_headers() if csp else None
    with serving(hostile_site, headers=headers) as base_url:
        for viewport in (DESKTOP, PHONE) if not csp else (DESKTOP,):
            context, rec = new_context(browser, base_url, viewport=viewport)
            page = context.new_page()
            for rel in site_pages(hostile_site):
                visit(page, base_url + rel, rec)
                page.mouse.move(200, 300)
                # Would run any inline handler an escaping bug let into an attribute.
                page.evaluate(HOVER_EVERYTHING_JS)
                assert page.evaluate("window.__xss") == [], rel
                assert page.evaluate(INJECTED_JS) == [], rel
                assert page.evaluate("window.__csp") == [], rel
                width = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
                assert width[0] <= width[1], f"{rel}: {width[0]}px wide at {viewport['width']}px"
                if rel.startswith("packages/"):
                    body = page.locator("main").inner_text()
                    project = rel.split("/")[1]
                    for name in SPLIT[project]:
                        visible = " ".join(shown(PAYLOADS[name]).split())
                        assert visible in " ".join(body.split()), f"{rel}: payload {name} not visible as text"
            assert rec.dialogs == []
            rec.assert_clean(f"hostile site, CSP={csp}")
            context.close()


# -- package names --------------------------------------------------------------------------------
BAD_NAMES = [
    "../x",
    "../../etc/passwd",
    "x/../../y",
    "/etc/passwd",
    "..",
    ".",
    "a/b",
    "a\\b",
    "x'; DROP TABLE aggregates; --",
    'x" OR 1=1 --',
    "acme; rm -rf ~",
    "%2e%2e%2fx",
    "\u0430cme",  # Cyrillic a
    "acme\x00",
    "acme\n",
    "",
    "-acme",
    "acme.",
    "a" * 201,
    "<script>",
]


@pytest.mark.parametrize("name", BAD_NAMES, ids=[repr(n)[:24] for n in BAD_NAMES])
def test_a_bad_package_name_is_refused_by_the_config(tmp_path: Path, name: str) -> None:
    raw = {"packages": {"names": ["acme", name]}, "source": {"kind": "local", "path": str(tmp_path)}}
    with pytest.raises(ConfigError, match=r"invalid package name"):
        config.parse(raw, tmp_path / "stats.toml")


@pytest.mark.parametrize("command", ["build", "plan"])
def test_bad_package_names_stop_the_cli_before_anything_runs(tmp_path: Path, command: str) -> None:
    events = write_events(tmp_path / "events", [event()])
    cfg = tmp_path / "stats.toml"
    cfg.write_text(
        f'[packages]\nnames = {json.dumps(["acme", *BAD_NAMES])}\n[source]\nkind = "local"\npath = "{events}"\n'
        f'[store]\npath = "{tmp_path / "store" / "store.duckdb"}"\n',
        encoding="utf-8",
    )
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    args = [command, "--config", str(cfg), "--as-of", AS_OF]
    proc = run_cli(*args, *(["--out", str(tmp_path / "site")] if command == "build" else []))
    assert proc.returncode == 1, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    message = " ".join(proc.stderr.split())
    assert message.startswith("error:"), message
    assert message.count("invalid package name") == len(BAD_NAMES), message
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before, "something ran"


# -- the Content-Security-Policy of netlify.toml --------------------------------------------------
NETLIFY = ROOT / "netlify.toml"
UNSAFE = ("'unsafe-inline'", "'unsafe-eval'", "'unsafe-hashes'", "'strict-dynamic'", "'wasm-unsafe-eval'")


@pytest.fixture(scope="module")
def csp() -> str:
    assert NETLIFY.is_file(), "netlify.toml is missing: the site's headers (CSP) are defined there"
    policy = netlify_headers(NETLIFY).get("Content-Security-Policy")
    assert policy, 'netlify.toml: the [[headers]] block for "/*" sets no Content-Security-Policy'
    return policy


def test_the_csp_allows_no_script_and_no_other_host(csp: str) -> None:
    directives = parse_csp(csp)
    assert directives.get("default-src") == ["'none'"], "everything not listed must be refused"
    assert directives.get("script-src", ["'none'"]) == ["'none'"], "the pages have no scripts"
    for name in ("base-uri", "form-action", "frame-ancestors"):  # not covered by default-src
        assert directives.get(name) == ["'none'"], f"{name} must be 'none'"
    for name, sources in directives.items():
        for source in sources:
            assert source in ("'none'", "'self'"), f"{name} allows {source}: the pages need only their own origin"
            assert source not in UNSAFE


def _violations(browser: Any, site: Path, policy: str, pages: list[str]) -> list[str]:  # noqa: F811
    found = []
    with serving(site, headers={"Content-Security-Policy": policy}) as base_url:
        context, rec = new_context(browser, base_url)
        page = context.new_page()
        for rel in pages:
            visit(page, base_url + rel, rec)
            found += [f"{rel}: {v}" for v in page.evaluate("window.__csp")]
            found += [f"{rel}: {m}" for m in rec.console if "Content Security Policy" in m]
            rec.clear()
        context.close()
    return found


@pytest.mark.browser
def test_the_csp_allows_what_every_page_needs(browser, demo_site: Path, csp: str) -> None:  # noqa: F811
    headers = netlify_headers(NETLIFY)
    with serving(demo_site, headers=headers) as base_url:
        context, rec = new_context(browser, base_url)
        page = context.new_page()
        for rel in site_pages(demo_site):
            visit(page, base_url + rel, rec)
            assert page.evaluate("window.__csp") == [], rel
            assert page.evaluate("getComputedStyle(document.body).marginTop") == "0px", f"{rel}: style.css blocked"
            rec.assert_clean(f"{rel} with the CSP")
        context.close()


@pytest.mark.browser
def test_every_csp_allowance_is_needed(browser, demo_site: Path, csp: str) -> None:  # noqa: F811
    """Tighten each allowance to 'none' in turn: some page must then break, or the allowance is surplus."""
    directives = parse_csp(csp)
    pages = ["index.html", f"packages/{sorted(p.name for p in (demo_site / 'packages').iterdir())[0]}/index.html"]
    assert _violations(browser, demo_site, csp, pages) == []
    for name, sources in directives.items():
        if sources == ["'none'"] or not name.endswith("-src"):
            continue
        tightened = format_csp({**directives, name: ["'none'"]})
        assert _violations(browser, demo_site, tightened, pages), f"{name} {' '.join(sources)} is not needed"


@pytest.mark.browser
def test_the_csp_blocks_injected_content(browser, tmp_path: Path, csp: str) -> None:  # noqa: F811
    """The header really reaches the browser and stops what an escaping bug would let through."""
    (tmp_path / "index.html").write_text(
        '<!doctype html><html lang="en"><head><title>probe</title><base href="http://198.51.100.7/">'
        "<style>body{color:red}</style></head><body>"
        '<script>window.__pwned("inline script")</script>'
        '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="">'
        '<iframe src="frame.html"></iframe><object data="x.swf"></object>'
        '<svg><foreignObject><div style="color:blue">x</div></foreignObject></svg>'
        '<form action="/post" method="post"><button id="send">send</button></form></body></html>',
        encoding="utf-8",
    )
    with serving(tmp_path, headers=netlify_headers(NETLIFY)) as base_url:
        context, rec = new_context(browser, base_url)
        page = open_page(context, base_url, rec)
        page.wait_for_timeout(200)
        page.evaluate("document.forms[0].requestSubmit()")  # a submit the CSP's form-action must stop
        page.wait_for_timeout(200)
        assert page.evaluate("window.__xss") == [], "an inline script ran despite the CSP"
        assert page.evaluate("getComputedStyle(document.body).color") != "rgb(255, 0, 0)", "inline <style> applied"
        blocked = {v.split()[0] for v in page.evaluate("window.__csp")}
        assert blocked >= {
            "base-uri",  # <base href> to another host
            "script-src-elem",  # inline <script>
            "style-src-elem",  # inline <style>
            "style-src-attr",  # style="..."
            "img-src",  # data: image
            "frame-src",  # <iframe>
            "object-src",  # <object>
            "form-action",  # form submission
        }, page.evaluate("window.__csp")
        context.close()
    assert rec.foreign == [], "the probe reached another host"


def test_every_character_clean_text_strips_shows_in_encoded_json_as_data_json_looks_for_it() -> None:
    """data/<name>.json cleans its strings only when the encoded text shows such a character
    (render._ENCODED_CONTROL): that pattern restates tables' set in escaped form, so it must match the
    encoding of every character the set strips, alone and inside other text."""
    from generator import render

    stripped = [chr(c) for c in range(0x10000) if tables._CONTROL.match(chr(c))]
    assert len(stripped) > 60  # C0, DEL, C1 and the bidi controls
    for char in stripped:
        for text in (char, f"pip{char}3.12", f"\\{char}"):
            assert render._ENCODED_CONTROL.search(render._ENCODE({"v": text})), hex(ord(char))
    assert render._json_lines({"v": "\x00a\u202eb"}, depth=1) == '{\n "v": "ab"\n}'
