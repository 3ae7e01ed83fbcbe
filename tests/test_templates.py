"""Each template reads the names its typed context declares, and nothing else.

`render_page` takes a context type per template (generator.render, generator.site); Jinja's
StrictUndefined fails a page only when a branch that reads a missing name runs. This reads every
name each template (and base.html, which every page extends) can read, whichever branches run.
"""

from __future__ import annotations

import jinja2
import jinja2.meta
import pytest
from jinja2 import nodes

from generator import render, site

ENV = site.environment()


def names_read(source: str) -> set[str]:
    """The names a template's source reads from its context: not its own, not a macro it imports."""
    tree = ENV.parse(source)
    imports = [name for node in tree.find_all(nodes.FromImport) for name in node.names]
    imported = {name if isinstance(name, str) else name[1] for name in imports}
    return jinja2.meta.find_undeclared_variables(tree) - imported - set(ENV.globals)


def read_names(template: str) -> set[str]:
    assert ENV.loader is not None
    return names_read(ENV.loader.get_source(ENV, template)[0])


def declared(context: type) -> set[str]:
    """A TypedDict's keys, its bases' included."""
    return set(context.__required_keys__) | set(context.__optional_keys__)


CONTEXTS = [
    ("package.html", render.PackageContext, {"tables"}),  # the tables are written as CSV beside it
    ("index.html", site.IndexContext, set()),
    ("top.html", site.LeaderboardContext, set()),
    ("cost.html", render.CostContext, set()),
    ("content.html", render.ContentContext, set()),
    ("404.html", render.NotFoundContext, set()),
]


@pytest.mark.parametrize(("template", "context", "unread"), CONTEXTS, ids=[c[0] for c in CONTEXTS])
def test_a_template_reads_only_what_its_context_declares(template: str, context: type, unread: set[str]) -> None:
    assert read_names(template) | read_names("base.html") <= declared(context)


@pytest.mark.parametrize(("template", "context", "unread"), CONTEXTS, ids=[c[0] for c in CONTEXTS])
def test_a_context_passes_nothing_its_template_does_not_read(template: str, context: type, unread: set[str]) -> None:
    assert declared(context) - read_names(template) - read_names("base.html") == unread


def test_the_check_sees_a_name_no_context_declares() -> None:
    source = '{% from "_macros.html" import data_table %}{{ data_table(t, "t.csv") }}{{ undeclared_name }}'
    assert names_read(source) == {"t", "undeclared_name"}
