"""Badges: shields.io endpoint JSON and self-contained static SVG, pure functions.

Files (contract: site URLs): `badges/<name>.json` and `badges/<name>.svg` show the honest
30-day number; `badges/with-mirrors/<name>.{json,svg}` and `badges/without-mirrors/<name>.{json,svg}`
show pypistats.org's two 30-day figures. Normalized package names contain only [a-z0-9-], so the
variant folders cannot collide with a package's own badge.

shields.io validates an endpoint document strictly and rejects the whole badge when it has a key
it does not know (badges/shields `services/endpoint-common.js`: `endpointSchema` with
`allowAndStripUnknownKeys: false`). Its keys are `SCHEMA_KEYS`; we use only a few of them.
"""

from __future__ import annotations

import json
from typing import Any
from xml.sax.saxutils import escape

from generator import layout, othersites
from generator import population as populations
from generator.dates import WindowCoverage
from generator.population import Population

SCHEMA_KEYS = frozenset(
    {
        "schemaVersion",
        "label",
        "message",
        "color",
        "labelColor",
        "isError",
        "namedLogo",
        "logoSvg",
        "logoColor",
        "logoWidth",
        "logoPosition",
        "style",
        "cacheSeconds",
    }
)
CACHE_SECONDS = 6 * 3600
"""The site is rebuilt daily; shields caches for at least 300 s whatever we say."""

# Hex colours, so the static SVG and shields render the same.
HONEST_COLOR = "#0b6e4f"
PYPISTATS_COLOR = "#555f6e"
SYNTHETIC_COLOR = "#9f9f9f"
LABEL_COLOR = "#555"

VARIANTS: dict[str, tuple[str, str]] = {
    f.badge.folder: (f.key, f.badge.label) for f in othersites.BADGES if f.badge is not None
}
"""Badge folder ("" is badges/ itself) → (figure key in the report, label), from generator.othersites."""


def compact(n: int) -> str:
    """1234 → '1.2k', 1234567 → '1.2M' (shields' metric style); under 1000 exact."""
    for size, suffix in ((10**9, "G"), (10**6, "M"), (10**3, "k")):
        if abs(n) >= size:
            value = n / size
            text = f"{value:.1f}" if abs(value) < 100 else f"{value:.0f}"
            return text.removesuffix(".0") + suffix
    return str(n)


def message(downloads: int, synthetic: bool, coverage: WindowCoverage | None = None) -> str:
    """ "12k/month"; over a month the store does not fully hold, "809 in 8 of 30 days", or "no data"."""
    if coverage is None or coverage.complete:
        text = f"{compact(downloads)}/month"
    elif coverage.empty:
        text = "no data"
    else:
        text = f"{compact(downloads)} in {coverage.held} of {coverage.days} days"
    return f"{text} (synthetic demo)" if synthetic else text


def endpoint(label: str, msg: str, color: str, cache_seconds: int = CACHE_SECONDS) -> dict[str, Any]:
    """A shields.io endpoint document with schema keys only."""
    if not msg:
        raise ValueError("shields rejects an empty message")
    doc = {
        "schemaVersion": 1,
        "label": label,
        "message": msg,
        "color": color,
        "labelColor": LABEL_COLOR,
        "cacheSeconds": cache_seconds,
    }
    assert set(doc) <= SCHEMA_KEYS
    return doc


# Approximate advance widths of 11px Verdana (what shields' flat badges use), in pixels.
_NARROW = set("fijlrtI.,:;!|'() ")
_WIDE = set("mwMW@%")


def text_width(text: str) -> float:
    """Rough rendered width of `text`: enough to size the badge; never shorter than the text."""
    width = 0.0
    for ch in text:
        if ch in _NARROW:
            width += 3.9
        elif ch in _WIDE:
            width += 10.0
        elif ch.isupper() or ch.isdigit():
            width += 7.6
        else:
            width += 6.9
    return width


def _attr(text: str) -> str:
    """Escaped for XML text and double-quoted attributes."""
    return escape(text, {'"': "&quot;"})


def svg(label: str, msg: str, color: str, label_color: str = LABEL_COLOR) -> str:
    """A flat two-part badge as a standalone SVG: no scripts, fonts, links or external references."""
    pad = 6
    lw = round(text_width(label) + 2 * pad)
    mw = round(text_width(msg) + 2 * pad)
    total = lw + mw
    title = _attr(f"{label}: {msg}")
    lab, mes = escape(label), escape(msg)
    lc, mc = _attr(label_color), _attr(color)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" viewBox="0 0 {total} 20"'
        f' role="img" aria-label="{title}">'
        f"<title>{title}</title>"
        f'<rect width="{lw}" height="20" fill="{lc}"/>'
        f'<rect x="{lw}" width="{mw}" height="20" fill="{mc}"/>'
        '<g fill="#fff" font-family="Verdana,DejaVu Sans,Geneva,sans-serif" font-size="11" text-anchor="middle">'
        f'<text x="{lw / 2:g}" y="14">{lab}</text>'
        f'<text x="{lw + mw / 2:g}" y="14">{mes}</text>'
        "</g></svg>\n"
    )


def package_badges(
    project: str,
    figures: dict[str, int],
    synthetic: bool,
    population: Population = populations.HONEST,
    coverage: WindowCoverage | None = None,
) -> dict[str, str]:
    """Every badge file for one package, by path under the site root.

    `figures` maps the report's figure keys (those of othersites.BADGES) to their 30-day values,
    and `coverage` says how many of those 30 days the store holds. The honest figure's badge names
    the package's `population`: without a CI flag in the source it includes CI installs, and its
    badge says so.
    """
    out: dict[str, str] = {}
    for folder, (key, label) in VARIANTS.items():
        honest = key == othersites.HONEST.key
        if honest:
            label = population.badge
        color = SYNTHETIC_COLOR if synthetic else (HONEST_COLOR if honest else PYPISTATS_COLOR)
        msg = message(figures[key], synthetic, coverage)
        out[layout.badge(project, folder, "json")] = json.dumps(endpoint(label, msg, color), indent=1) + "\n"
        out[layout.badge(project, folder, "svg")] = svg(label, msg, color)
    return out
