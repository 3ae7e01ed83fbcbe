"""Shared helpers for the real-browser tests: Debian's Chromium driven by Playwright, a local server,
and a recorder that fails a page on console errors, failed requests or any third-party request.

Playwright cannot download a browser here, so it launches the system Chromium (`$PLAYWRIGHT_CHROMIUM`,
default /usr/bin/chromium; `make test` installs it). Without it the browser tests skip with the reason,
except in CI (`$CI` set), where they fail: CI must never pass by skipping them.

Test modules import the fixtures they use from here (`from browser import browser`).
"""

from __future__ import annotations

import os
import shutil
import tomllib
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM_ENV = "PLAYWRIGHT_CHROMIUM"
DEFAULT_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}
SUBPATH = "/some/prefix/"

# Installed before any page script: records dialogs and calls a payload could make, and CSP violations.
HOOK_SCRIPT = """
(() => {
  window.__xss = [];
  const record = (what) => window.__xss.push(String(what));
  for (const name of ["alert", "confirm", "prompt", "print", "open"]) {
    window[name] = (...args) => { record(name + ":" + args.join(",")); return null; };
  }
  window.__pwned = (what) => record("pwned:" + what);
  window.__csp = [];
  document.addEventListener("securitypolicyviolation", (e) => {
    window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
  });
})();
"""


def chromium_executable() -> str:
    """The Chromium to launch, or skip (fail in CI) with the reason it is missing."""
    path = os.environ.get(CHROMIUM_ENV) or DEFAULT_CHROMIUM
    resolved = shutil.which(path) or path
    if os.path.isfile(resolved) and os.access(resolved, os.X_OK):
        return resolved
    reason = (
        f"no Chromium at {path}: run `make test` (it installs Debian's chromium) or set ${CHROMIUM_ENV}"
        " to a Chromium binary"
    )
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium per test module (each module imports this fixture: a session scope would start two)."""
    executable = chromium_executable()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - the test extra installs it
        if os.environ.get("CI"):
            pytest.fail("playwright is not installed (pip install -e '.[test]')")
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@contextmanager
def serving(site: Path, prefix: str = "/", headers: Mapping[str, str] | None = None) -> Iterator[str]:
    """Serve `site` on a free loopback port under `prefix`; yields the base URL (ends with /)."""
    from generator.serve import serve_in_thread

    server, base_url = serve_in_thread(site, prefix=prefix, headers=headers)
    try:
        yield base_url
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Recorder:
    """Everything a browser context did that a clean static page must not do."""

    origin: str
    requests: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    bad_status: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    pending: set[Any] = field(default_factory=set)
    finished: Counter[str] = field(default_factory=Counter)

    def problems(self) -> list[str]:
        return (
            [f"request to another host: {u}" for u in self.foreign]
            + [f"failed request: {u}" for u in self.failed]
            + [f"HTTP error: {u}" for u in self.bad_status]
            + [f"console {m}" for m in self.console]
            + [f"page error: {m}" for m in self.page_errors]
            + [f"dialog: {m}" for m in self.dialogs]
        )

    def assert_clean(self, what: str = "") -> None:
        problems = self.problems()
        assert not problems, f"{what}: " + "\n".join(problems)

    def clear(self) -> None:
        for name in ("requests", "foreign", "failed", "bad_status", "console", "page_errors", "dialogs"):
            getattr(self, name).clear()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def new_context(browser: Any, base_url: str, **options: Any) -> tuple[Any, Recorder]:
    """A fresh context whose every request, console message and dialog is recorded.

    Requests to any origin but the local server are recorded and aborted before they leave.
    """
    context = browser.new_context(**options)
    rec = Recorder(origin=_origin(base_url))
    context.add_init_script(HOOK_SCRIPT)

    def route(route: Any) -> None:
        url = route.request.url
        if url.startswith(("data:", "blob:", "about:")) or _origin(url) == rec.origin:
            route.continue_()
        else:
            if url not in rec.foreign:
                rec.foreign.append(url)
            route.abort()

    context.route("**/*", route)
    context.on("request", lambda r: _on_request(rec, r))
    context.on("requestfinished", lambda r: _on_done(rec, r))
    context.on("requestfailed", lambda r: _on_done(rec, r) or rec.failed.append(f"{r.url} ({r.failure})"))
    context.on("response", lambda r: r.status >= 400 and rec.bad_status.append(f"{r.status} {r.url}"))
    context.on("page", lambda page: _watch_page(rec, page))
    return context, rec


def _on_request(rec: Recorder, request: Any) -> None:
    rec.requests.append(request.url)
    rec.pending.add(request)
    local = request.url.startswith(("data:", "blob:", "about:")) or _origin(request.url) == rec.origin
    if not local and request.url not in rec.foreign:
        rec.foreign.append(request.url)


def _on_done(rec: Recorder, request: Any) -> None:
    rec.pending.discard(request)
    rec.finished[request.url] += 1


def _watch_page(rec: Recorder, page: Any) -> None:
    page.on("console", lambda m: m.type in ("error", "warning") and rec.console.append(f"{m.type}: {m.text}"))
    page.on("pageerror", lambda e: rec.page_errors.append(str(e)))

    def dialog(d: Any) -> None:
        rec.dialogs.append(f"{d.type}: {d.message}")
        d.dismiss()

    page.on("dialog", dialog)


def visit(page: Any, url: str, rec: Recorder | None = None) -> Any:
    """Load `url` in `page` (the pages have no scripts, so `load` means done).

    With the context's recorder, also wait for the requests that follow `load` (the favicon), so that
    leaving the page does not abort them and they are checked like the rest.
    """
    before = Counter(rec.finished) if rec is not None else None
    response = page.goto(url, wait_until="load")
    assert response is not None, f"{url}: no response"
    assert response.ok, f"{url}: HTTP {response.status}"
    if rec is not None:
        settle(page, rec, before)
    return page


def settle(page: Any, rec: Recorder, before: Counter[str] | None = None, timeout_ms: int = 2000) -> None:
    """Wait until no request is in flight and the page's icon, fetched after `load` on every visit, is done."""
    icon = page.evaluate("() => { const l = document.querySelector('link[rel~=icon]'); return l ? l.href : null; }")
    seen = (before or Counter())[icon] if icon else 0
    waited = 0
    while waited < timeout_ms and (rec.pending or (icon and rec.finished[icon] <= seen)):
        page.wait_for_timeout(20)
        waited += 20


def open_page(context: Any, url: str, rec: Recorder | None = None) -> Any:
    """A new page at `url`, loaded."""
    return visit(context.new_page(), url, rec)


def site_pages(site: Path) -> list[str]:
    """Every HTML page of a built site but the 404 page, as URL paths relative to its root."""
    pages = []
    for path in sorted(site.rglob("*.html")):
        rel = path.relative_to(site).as_posix()
        if rel != "404.html":
            pages.append(rel)
    return pages


def netlify_headers(path: Path = ROOT / "netlify.toml", pattern: str = "/*") -> dict[str, str]:
    """The response headers netlify.toml sets for `pattern` (the site-wide `for = "/*"` block)."""
    config = tomllib.loads(path.read_text(encoding="utf-8"))
    for block in config.get("headers", []):
        if block.get("for") == pattern:
            return {str(k): str(v) for k, v in block.get("values", {}).items()}
    raise AssertionError(f"{path}: no [[headers]] block for {pattern!r}")


def parse_csp(policy: str) -> dict[str, list[str]]:
    """'default-src 'none'; style-src 'self'' → {'default-src': ["'none'"], 'style-src': ["'self'"]}."""
    directives: dict[str, list[str]] = {}
    for part in policy.split(";"):
        words = part.split()
        if words:
            directives[words[0].lower()] = words[1:]
    return directives


def format_csp(directives: Mapping[str, list[str]]) -> str:
    return "; ".join(" ".join([name, *values]) for name, values in directives.items())
