"""Chart SVG made safe for a page: post-processing of what vl-convert draws, and the checks every chart passes.

Pages embed several SVGs in one HTML document with no JavaScript and no external requests, so
every SVG is post-processed: ids are namespaced by a per-chart slug, the text and axis ink becomes
`currentColor` (the page's light/dark text colour), a <title>/<desc> pair names it for assistive
technology, and the result is checked against an allowlist before it is returned.

Labels come from user agents and package metadata that anyone can forge, so they only ever travel
as inline data values (never inside Vega expressions) and are cleaned of control characters first
(`clean_label`).
"""

from __future__ import annotations

import functools
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Mapping

# The one colour for text, axes, gridlines, totals and "ink" lines. It is a sentinel: nothing else
# uses it, so post-processing can swap it for `currentColor` and the page's CSS colour (light or
# dark scheme) applies. It is a readable dark grey if a spec is ever rendered without that step.
INK = "#303132"
FONT = "system-ui, sans-serif"
MAX_LABEL_CHARS = 200  # characters kept from any data label before rendering

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
_CHART_ID_RE = re.compile(r"^[a-z][a-z0-9-]*$")
_NUMBER_RE = re.compile(r"-?\d+\.\d{3,}")
_URL_REF_RE = re.compile(r"url\(\s*#([^)\s]+)\s*\)")

# Elements Vega's SVG renderer emits for the marks used here, plus the title/desc we add. Anything
# else (script, foreignObject, image, a, use, ...) means something went wrong and fails the build.
_ALLOWED_ELEMENTS = frozenset(
    {"svg", "g", "path", "rect", "line", "circle", "text", "tspan", "title", "desc", "defs", "clipPath"}
)
# Attributes that may carry a URL; only same-document fragment references are acceptable there.
_HREF_ATTRIBUTES = frozenset({"href", f"{{{XLINK_NS}}}href"})

# Bidirectional overrides and isolates can make a forged label display as something else.
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def clean_label(text: object, *, max_chars: int = MAX_LABEL_CHARS) -> str:
    """Make a data label safe to render: no control, surrogate or bidi characters, bounded length."""
    kept: list[str] = []
    for char in str(text):
        kind = unicodedata.category(char)
        if kind == "Cc":
            # Tabs and newlines become spaces so words stay apart; NUL and the rest vanish.
            if char in "\t\n\r\x0b\x0c":
                kept.append(" ")
        elif kind in ("Cs", "Co", "Cn") or char in _BIDI_CONTROLS:
            continue
        else:
            kept.append(char)
    cleaned = " ".join("".join(kept).split())
    if len(cleaned) > max_chars:
        cleaned = cleaned[: max_chars - 1] + "…"
    return cleaned


def check_chart_id(chart_id: str) -> None:
    if not isinstance(chart_id, str) or not _CHART_ID_RE.fullmatch(chart_id):
        raise ValueError(f"chart_id must match ^[a-z][a-z0-9-]*$, got {chart_id!r}")


def postprocess_svg(svg: str, *, title: str, description: str, chart_id: str) -> str:
    """Namespace ids, theme the ink, add title/desc and ARIA, then verify the result is inert."""
    check_chart_id(chart_id)
    root = ET.fromstring(svg)
    if root.tag != f"{{{SVG_NS}}}svg":
        raise ValueError("not an SVG document")
    _drop_background(root)
    _prefix_ids(root, chart_id)
    _strip_presentational(root)
    for element in root.iter():
        _theme_and_round(element)
    _slim(root)
    label_root(root, title=title, description=description, chart_id=chart_id)
    check_safe(root)
    unqualify(root)
    # Markup only: ElementTree escapes ">" in text and attribute values, so " />" ends a tag.
    return ET.tostring(root, encoding="unicode").replace(" />", "/>")


def unqualify(root: ET.Element) -> None:
    """Write the SVG namespace as the default one (ElementTree would otherwise invent `ns0:`)."""
    uses_xlink = False
    for element in root.iter():
        element.tag = element.tag.rpartition("}")[2]
        for attribute in [a for a in element.attrib if a.startswith(f"{{{XLINK_NS}}}")]:
            element.set("xlink:" + attribute.rpartition("}")[2], element.attrib.pop(attribute))
            uses_xlink = True
    root.set("xmlns", SVG_NS)
    if uses_xlink:
        root.set("xmlns:xlink", XLINK_NS)


def _drop_background(root: ET.Element) -> None:
    """Remove an opaque background rect if Vega drew one; the page's background shows through."""
    for child in list(root):
        if child.tag == f"{{{SVG_NS}}}rect" and child.get("fill") not in (None, "none", "transparent"):
            root.remove(child)


def _prefix_ids(root: ET.Element, chart_id: str) -> None:
    """Prefix every id and every reference to one, so several inline SVGs never collide."""

    def prefixed(name: str) -> str:
        return f"{chart_id}-{name}"

    for element in root.iter():
        for attribute, value in list(element.attrib.items()):
            if attribute == "id":
                element.set(attribute, prefixed(value))
            elif attribute in _HREF_ATTRIBUTES and value.startswith("#"):
                element.set(attribute, "#" + prefixed(value[1:]))
            elif "url(" in value:
                element.set(attribute, _URL_REF_RE.sub(lambda m: f"url(#{prefixed(m.group(1))})", value))


def _strip_presentational(root: ET.Element) -> None:
    """Drop what only matters to Vega's own scenegraph or to interactive renderers.

    Inside a role="img" root, descendants' ARIA is ignored; Vega's class names (`background`,
    `marks`, ...) could match the page's CSS; pointer-events has no use without scripts. Removing
    them cuts a 210-day chart by a fifth. Hidden empty paths go too.
    """
    for parent in list(root.iter()):
        for child in list(parent):
            if child.get("display") == "none":
                parent.remove(child)
                continue
            if "mark-rect" in child.get("class", ""):
                # Adjacent day bars otherwise show anti-aliased hairline seams between them.
                child.set("shape-rendering", "crispEdges")
            for attribute in list(child.attrib):
                if attribute in ("role", "class", "pointer-events") or attribute.startswith("aria-"):
                    del child.attrib[attribute]


# Presentation attributes a child inherits from its <g> (`opacity` is not one: on a group it composites).
_INHERITED = frozenset(
    {
        "fill",
        "fill-opacity",
        "stroke",
        "stroke-opacity",
        "stroke-width",
        "stroke-dasharray",
        "stroke-linecap",
        "font-family",
        "font-size",
        "font-weight",
    }
)
_DEFAULT_ONE = ("opacity", "fill-opacity", "stroke-opacity")


def _slim(root: ET.Element) -> None:
    """Say the same thing in fewer bytes (a 180-day package page carries a dozen charts).

    - `opacity="1"` and friends are the default: dropped.
    - Paths with neither fill nor stroke draw nothing (Vega's group backgrounds, under the root's
      fill="none"): dropped.
    - The font family, which Vega repeats on every text, is said once on the root.
    - Where every child of a group is a <line> (gridlines, ticks) or every child is a <text>
      (axis labels), the inherited attributes they all share move up to the group. Bars and other
      paths keep their own fill: a reader (or a test) can take each bar's colour from the bar.
    """
    parents = {child: parent for parent in root.iter() for child in parent}
    for element in list(root.iter()):
        for attribute in _DEFAULT_ONE:
            if element.get(attribute) == "1":
                del element.attrib[attribute]
        if element.get("transform") == "translate(0,0)":
            del element.attrib["transform"]
        if element.tag == f"{{{SVG_NS}}}line":
            for attribute in ("x1", "y1", "x2", "y2"):
                if element.get(attribute) == "0":
                    del element.attrib[attribute]
        if (
            element.tag == f"{{{SVG_NS}}}path"
            and "fill" not in element.attrib
            and "stroke" not in element.attrib
            and not len(element)
            and _inherited(element, "fill", parents) == "none"
        ):
            parents[element].remove(element)
    for group in reversed(list(root.iter(f"{{{SVG_NS}}}g"))):  # innermost first
        if not len(group) and group in parents:
            parents[group].remove(group)
    texts = list(root.iter(f"{{{SVG_NS}}}text"))
    if texts and all(t.get("font-family") == FONT for t in texts):
        root.set("font-family", FONT)
        for t in texts:
            del t.attrib["font-family"]
    for group in root.iter(f"{{{SVG_NS}}}g"):
        children = list(group)
        if len(children) < 2 or len({c.tag for c in children}) != 1:
            continue
        if children[0].tag not in (f"{{{SVG_NS}}}line", f"{{{SVG_NS}}}text"):
            continue
        shared = dict(children[0].attrib)
        for child in children[1:]:
            shared = {k: v for k, v in shared.items() if child.get(k) == v}
        for attribute, value in shared.items():
            if attribute in _INHERITED and attribute not in group.attrib:
                group.set(attribute, value)
                for child in children:
                    del child.attrib[attribute]


def _inherited(element: ET.Element, attribute: str, parents: Mapping[ET.Element, ET.Element]) -> str | None:
    """The value `element` gets for an inherited attribute: its own, or its nearest ancestor's."""
    node: ET.Element | None = element
    while node is not None:
        if attribute in node.attrib:
            return node.attrib[attribute]
        node = parents.get(node)
    return None


def _theme_and_round(element: ET.Element) -> None:
    """Swap the sentinel ink for currentColor; trim long decimals in geometry."""
    for attribute, value in list(element.attrib.items()):
        if attribute in ("fill", "stroke") and value.lower() == INK:
            element.set(attribute, "currentColor")
        elif attribute in ("d", "transform"):
            # Vega writes coordinates such as 41.2500002464916; two decimals are sub-pixel exact.
            element.set(attribute, _NUMBER_RE.sub(_round_number, value))


def _round_number(match: re.Match[str]) -> str:
    return _rounded(match.group())


@functools.lru_cache(maxsize=8192)
def _rounded(number: str) -> str:
    """A number to two decimals, trailing zeros dropped (a chart repeats its coordinates: cached)."""
    text = f"{float(number):.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def label_root(root: ET.Element, *, title: str, description: str, chart_id: str) -> None:
    """role="img" plus <title>/<desc> as first children, named by aria-labelledby."""
    root.set("role", "img")
    root.set("aria-labelledby", f"{chart_id}-title {chart_id}-desc")
    root.set("class", "chart")
    for attribute in ("aria-roledescription", "aria-label"):
        root.attrib.pop(attribute, None)
    title_el = ET.Element(f"{{{SVG_NS}}}title", {"id": f"{chart_id}-title"})
    title_el.text = clean_label(title, max_chars=500)
    desc_el = ET.Element(f"{{{SVG_NS}}}desc", {"id": f"{chart_id}-desc"})
    desc_el.text = clean_label(description, max_chars=2000)
    root.insert(0, desc_el)
    root.insert(0, title_el)


def check_safe(root: ET.Element) -> None:
    """Raise ValueError unless the SVG is inert: allowlisted elements, no handlers, no external URLs."""
    for element in root.iter():
        namespace, _, name = element.tag.rpartition("}")
        if namespace != "{" + SVG_NS or name not in _ALLOWED_ELEMENTS:
            raise ValueError(f"unexpected element {element.tag!r} in chart SVG")
        for attribute, value in element.attrib.items():
            local = attribute.rpartition("}")[2].lower()
            lowered = value.lower()
            if local.startswith("on") or local == "style":
                raise ValueError(f"unexpected attribute {attribute!r} in chart SVG")
            if attribute in _HREF_ATTRIBUTES and not value.startswith("#"):
                raise ValueError(f"external reference {value!r} in chart SVG")
            if "url(" in lowered and _URL_REF_RE.sub("", value).lower().count("url(") > 0:
                raise ValueError(f"external url() in chart SVG attribute {attribute!r}")
            if "http://" in lowered or "https://" in lowered or "javascript:" in lowered:
                raise ValueError(f"URL in chart SVG attribute {attribute!r}")
