"""One vocabulary (generator.vocabulary, generator.categories): pages, glossary, methodology and FAQ
name each category and rule in the same words.

- every link from a content page to a named rule has the rule's name as its text;
- the methodology heading of each rule carries its name;
- a built page's category names (installers table, waterfall) and rule names (matrix) are the table's;
- the glossary shows the table itself.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from htmltools import parse
from test_golden import golden_events

from generator import categories, render, resources, vocabulary

CONTENT = resources.content()
LINK = re.compile(r"\[([^\]]*)\]\((?:methodology\.html)?#(rule-[a-z-]+)\)")


@pytest.mark.parametrize("page", render.CONTENT_PAGES)
def test_links_to_a_rule_use_its_name(page: str) -> None:
    text = (CONTENT / f"{page}.md").read_text(encoding="utf-8")
    for words, rule in LINK.findall(text):
        if rule in vocabulary.BY_ID:
            assert words == vocabulary.name(rule), f"{page}.md calls {rule} {words!r}"


@pytest.mark.parametrize("rule", vocabulary.RULES, ids=lambda rule: rule.id)
def test_each_rule_heading_in_the_methodology_carries_its_name(rule: vocabulary.Rule) -> None:
    text = (CONTENT / "methodology.md").read_text(encoding="utf-8")
    heading = re.search(r"^#+ .*\{#" + re.escape(rule.id) + r"\}$", text, re.M)
    assert heading, f"no methodology section for {rule.id}"
    assert rule.name.lower() in heading.group(0).lower(), (rule.id, heading.group(0))


def test_the_glossary_shows_every_category_and_rule_with_its_definition() -> None:
    _title, html = render.markdown_page("glossary")
    for key in categories.CATEGORIES:
        assert categories.CATEGORY_LABELS[key] in html
        assert categories.CATEGORY_DEFINITIONS[key] in html
    for rule in vocabulary.RULES:
        assert f'href="methodology.html#{rule.id}">{rule.name}</a>' in html.replace("&#x27;", "'"), rule.id


def test_a_page_names_categories_and_rules_in_the_tables_words(make_site) -> None:  # noqa: ANN001
    site: Path = make_site(golden_events(), ["acme"], "2026-10-31", history_days=60)
    tables = parse((site / "packages/acme/index.html").read_text(encoding="utf-8")).tables
    shown = {row[1] for row in tables["installers"][1:]}
    assert shown, shown
    assert shown <= set(categories.CATEGORY_LABELS.values()), shown
    steps = {row[0] for row in tables["waterfall"][1:]}
    assert {categories.CATEGORY_LABELS[c] for c in categories.CATEGORIES if c != categories.PACKAGE_MANAGER} <= steps
    rules = [row[0] for row in tables["matrix"][2:-1]]
    assert rules
    assert rules == [r.name for r in vocabulary.RULES if r.name in rules]
