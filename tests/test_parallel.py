"""How many page processes a build starts: what --jobs asks, or, without it, what the pages are worth."""

from __future__ import annotations

import pickle

import pytest

from generator import parallel


@pytest.mark.parametrize(
    ("jobs", "packages", "workers"),
    [
        (None, 0, 0),  # nothing to render: no worker
        (None, 1, 1),  # 1: the build's own process renders
        (None, 10, 1),  # a second process's start costs more than the 10 pages it would take over
        (None, 19, 1),
        (None, 20, 2),
        (None, 1000, 2),  # never more than the cores
        (1, 1000, 1),
        (2, 3, 2),  # --jobs is obeyed, whatever the pages
        (4, 3, 3),  # but never more processes than pages
    ],
)
def test_page_processes(jobs: int | None, packages: int, workers: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "default_jobs", lambda: 2)
    assert parallel.workers_for(jobs, packages) == workers


def test_a_text_two_paths_share_travels_to_the_build_once() -> None:
    """An API document is written with and without its extension: one text, encoded and pickled once."""
    document = '{"data":[]}\n' * 1000
    files: list[tuple[str, str | bytes]] = [
        ("api/packages/acme/overall", document),
        ("api/packages/acme/overall.json", document),
        ("packages/acme/index.html", "<p>page</p>"),
        ("badges/acme.svg", b"<svg/>"),
    ]
    encoded = parallel._encoded(files)
    assert [rel for rel, _ in encoded] == [rel for rel, _ in files]
    assert [data for _, data in encoded] == [d.encode() if isinstance(d, str) else d for _, d in files]
    assert encoded[0][1] is encoded[1][1]
    assert len(pickle.dumps(encoded)) < 1.2 * len(document)
