"""Golden file: one rendered package page, compared as a whole (charts' SVG bodies normalised).

After an intended change to the page, regenerate with `make golden` (UPDATE_GOLDEN=1) and
review the diff before committing it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from conftest import event

from generator import __version__

GOLDEN = Path(__file__).parent / "golden"


def golden_events() -> list[dict]:
    """A small, hand-made month: every rule on the page has something to show."""
    events = []
    for day in range(1, 32):
        d = f"2026-10-{day:02d}"
        events += [event(day=d), event(day=d, installer="uv", python="3.13.0", iv="0.5.1")]
        if day % 7 == 0:
            events += [event(day=d, ci=True), event(day=d, installer="requests", python=None)]
        if day in (3, 17):  # release days: every mirror fetches the new files
            version = "1.1" if day == 3 else "2.0"
            events += [event(day=d, installer="bandersnatch", python=None, version=version) for _ in range(6)]
    events += [event(day="2026-10-20", installer=None, python=None), event(day="2026-10-21", python="10.1")]
    events += [event(day="2026-10-22", installer="Nexus"), event(day="2026-10-23", installer="mystery-bot")]
    events += [event(day="2026-09-15", installer="pip")]  # before the 30-day window
    return events


def normalise(html: str) -> str:
    # Chart geometry belongs to vl-convert and has its own tests; keep the title and desc.
    html = re.sub(r"(<svg\b[^>]*>)(.*?)(</svg>)", _keep_title_desc, html, flags=re.S)
    # The footer names the generator's version, which every release changes (tests/test_build.py checks it).
    return html.replace(f"pypi-stats-site {__version__}.", "pypi-stats-site VERSION.")


def _keep_title_desc(match: re.Match[str]) -> str:
    inner = "".join(re.findall(r"<title\b.*?</title>|<desc\b.*?</desc>", match.group(2), flags=re.S))
    return f"{match.group(1)}{inner}[chart]{match.group(3)}"


def test_package_page_matches_golden(make_site) -> None:  # noqa: ANN001
    site = make_site(golden_events(), ["acme"], "2026-10-31", history_days=60)
    actual = normalise((site / "packages" / "acme" / "index.html").read_text(encoding="utf-8"))
    path = GOLDEN / "package-acme.html"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(actual, encoding="utf-8")
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, "package page changed: review, then run `make golden` to accept"
