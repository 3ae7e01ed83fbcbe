"""The site works under a sub-path (GitHub Pages project sites: https://user.github.io/repo/) and at
a domain root: every internal link and asset of every page resolves over HTTP, the 404 page's too.
"""

from __future__ import annotations

import shutil
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlsplit

import pytest
from browser import serving
from conftest import run_cli
from htmltools import parse

from generator import sample

PREFIX = "/some/prefix/"
BASE_URL = f"https://stats.example.test{PREFIX}"


@pytest.fixture(scope="module")
def prefixed_site(demo_site: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo site rebuilt (from a copy of its store, no fetching) with [site].base_url under PREFIX."""
    work = tmp_path_factory.mktemp("prefixed")
    shutil.copy(demo_site.parent / "store.duckdb", work / "store.duckdb")
    text = (demo_site.parent / "stats.toml").read_text(encoding="utf-8")
    text = text.replace("[site]\n", f'[site]\nbase_url = "{BASE_URL}"\n', 1)
    text = text.replace(str(demo_site.parent / "store.duckdb"), str(work / "store.duckdb"))
    (work / "stats.toml").write_text(text, encoding="utf-8")
    proc = run_cli("build", "--config", str(work / "stats.toml"), "--out", str(work / "site"), "--no-fetch")
    assert proc.returncode == 0, proc.stderr
    return work / "site"


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 (our own loopback server)
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read()


def is_html(url: str, content_type: str) -> bool:
    return "text/html" in content_type or url.endswith((".html", "/"))


def crawl(base: str) -> dict[str, int]:
    """Fetch every page and file reachable by links from index.html; assert each one resolves."""
    origin = "{0.scheme}://{0.netloc}".format(urlsplit(base))
    todo = [base + "index.html"]
    seen: dict[str, int] = {}
    ids: dict[str, set[str]] = {}
    anchors: list[tuple[str, str, str]] = []
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        status, ctype, body = get(url)
        seen[url] = status
        assert status == 200, f"{url}: HTTP {status}"
        if not is_html(url, ctype):
            continue
        page = parse(body.decode("utf-8"))
        ids[url] = page.ids
        for link in page.links:
            target = urljoin(url, link)
            if urlsplit(target).scheme not in ("http", "https") or not target.startswith(origin):
                continue  # external: the snippets mention shields.io, which the page never loads
            target, fragment = urldefrag(target)
            assert urlsplit(target).path.startswith(urlsplit(base).path), f"{url}: {link} leaves the site"
            if fragment:
                anchors.append((url, target, fragment))
            todo.append(target)
    for page, target, fragment in anchors:
        if target in ids:
            assert fragment in ids[target], f"{page}: no #{fragment} in {target}"
    return seen


@pytest.fixture(scope="module")
def served_prefixed(prefixed_site: Path) -> Iterator[str]:
    with serving(prefixed_site, prefix=PREFIX) as base:
        yield base


@pytest.fixture(scope="module")
def served_root(demo_site: Path) -> Iterator[str]:
    with serving(demo_site, prefix="/") as base:
        yield base


def check_site(base: str) -> dict[str, int]:
    seen = crawl(base)
    paths = {urlsplit(u).path.removeprefix(urlsplit(base).path) for u in seen}
    for project in sample.DEMO_PACKAGES:
        for needed in (
            f"packages/{project}/index.html",
            f"packages/{project}/sources.csv",
            f"data/{project}.json",
            f"badges/{project}.svg",
            f"badges/{project}.json",
            f"api/packages/{project}/recent",
            f"api/packages/{project}/system",
        ):
            assert needed in paths, needed
    for name in ("style.css", "feed.xml", "methodology.html", "cost.html"):
        assert name in paths, name
    return seen


def check_404(base: str) -> None:
    """A missing page at any depth gets 404.html, whose links and stylesheet must still resolve."""
    for missing in ("nope.html", "packages/no-such-package/", "packages/a/b/c/d.html"):
        url = base + missing
        status, _, body = get(url)
        assert status == 404
        assert b"Page not found" in body
        for link in parse(body.decode("utf-8")).links:
            if link.startswith("#"):
                continue  # the skip link, on the page itself
            target = urldefrag(urljoin(url, link))[0]
            if target.startswith(base):
                assert get(target)[0] == 200, f"404 page at {url}: {link} -> {target}"
            else:
                assert urlsplit(link).scheme in ("http", "https"), link
                assert not link.startswith(base), link


@pytest.mark.parametrize(
    ("served", "path"),
    [pytest.param("served_prefixed", PREFIX, id="under a sub-path"), pytest.param("served_root", "/", id="at a root")],
)
def test_every_link_and_asset_resolves(request: pytest.FixtureRequest, served: str, path: str) -> None:
    base = request.getfixturevalue(served)
    assert urlsplit(base).path == path
    check_site(base)
    check_404(base)


def test_sitemap_and_feed_point_into_the_sub_path(served_prefixed: str, prefixed_site: Path) -> None:
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    root = ET.fromstring(get(served_prefixed + "sitemap.xml")[2])
    locs = [e.text or "" for e in root.findall("s:url/s:loc", ns)]
    assert locs
    assert [loc for loc in locs if not loc.startswith(BASE_URL)] == []
    assert {BASE_URL, BASE_URL + f"packages/{sample.DEMO_PACKAGES[0]}/"} <= set(locs)
    for loc in locs:  # the same paths, served locally
        assert get(served_prefixed + loc.removeprefix(BASE_URL))[0] == 200, loc
    robots = get(served_prefixed + "robots.txt")[2].decode()
    assert f"Sitemap: {BASE_URL}sitemap.xml" in robots
    feed = ET.fromstring(get(served_prefixed + "feed.xml")[2])
    atom = "{http://www.w3.org/2005/Atom}"
    assert feed.tag == f"{atom}feed"
    hrefs = [link.get("href") or "" for link in feed.iter(f"{atom}link")]
    assert hrefs
    assert [h for h in hrefs if not h.startswith(BASE_URL)] == []
    page = (prefixed_site / "packages" / sample.DEMO_PACKAGES[0] / "index.html").read_text(encoding="utf-8")
    assert f'<link rel="canonical" href="{BASE_URL}packages/{sample.DEMO_PACKAGES[0]}/">' in page
    assert f'<meta property="og:url" content="{BASE_URL}packages/{sample.DEMO_PACKAGES[0]}/">' in page
    assert f"[![honest installs]({BASE_URL}badges/{sample.DEMO_PACKAGES[0]}.svg)]" in page
