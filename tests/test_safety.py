"""Safe in a user's hands: the build never deletes what it did not write.

A build replaces its output directory whole, so `--out` must name a directory the tool built (it
holds `build-manifest.json`) or an empty one; anything else is refused in one line, before any work,
with the tree untouched. The store must not live in the site. Files a user wants in the site go in
`[site].static`; anything else in the old site is named in a warning before it goes.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import event, write_config, write_events
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from generator import incremental, outdir
from generator.cli import main
from generator.errors import ConfigError


def snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under `root` with a digest of its bytes: equal snapshots, untouched tree."""
    out: dict[str, str] = {}
    for folder, dirs, names in os.walk(root):
        for d in dirs:
            out[os.path.relpath(os.path.join(folder, d), root) + "/"] = ""
        for name in names:
            path = os.path.join(folder, name)
            out[os.path.relpath(path, root)] = hashlib.sha256(Path(path).read_bytes()).hexdigest()
    return out


def project(root: Path, extra: str = "") -> Path:
    """A user's project: stats.toml, an events folder (one install a day, 30 days) and the store beside it."""
    events = write_events(root / "events", [event(f"2026-10-{day:02d}") for day in range(2, 32)])
    return write_config(root / "stats.toml", events, ["acme"], "2026-10-31", history_days=30, extra=extra)


def build(cfg: Path, out: str, *more: str) -> int:
    return main(["build", "--config", str(cfg), "--out", out, "--jobs", "1", *more])


@contextlib.contextmanager
def cwd(path: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


# -- item 1: --out replaces only its own output ----------------------------------------------------------
# Every case runs a real build, so each --out it names is inside the test's own folder: $HOME is a
# folder there too. Were the checks ever broken, such a test must not replace a real home directory
# or litter the filesystem root (it once did: a build into ~ replaced it). The root is checked
# without a build, below.
@pytest.mark.parametrize(
    ("out", "message"),
    [
        (".", "--out is the config file's folder"),
        ("", "--out is empty (an unset shell variable?)"),
        ("~", "--out is your home directory"),
        ("events", "--out is the events folder"),
        ("..", "--out holds the config file's folder"),
        ("events/site", "--out is inside the events folder"),
        ("stats.toml", "--out is a file, not a directory"),
        ("mine", "--out is not empty and is not a site this tool built (no build-manifest.json)"),
    ],
)
def test_an_out_dir_the_tool_did_not_build_is_refused_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, out: str, message: str
) -> None:
    home = tmp_path / "home"
    (home / ".pyenv").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    work = tmp_path / "project"
    cfg = project(work)
    (work / "mine").mkdir()
    (work / "mine" / "thesis.tex").write_text("years of work", encoding="utf-8")
    (work / ".git").mkdir()
    (work / ".git" / "HEAD").write_text("ref: refs/heads/main\n", encoding="utf-8")
    before = snapshot(tmp_path)
    with cwd(work):
        code = build(cfg, os.path.expanduser(out) if out == "~" else out)
    err = capsys.readouterr().err
    assert code == 1
    assert message in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert snapshot(tmp_path) == before  # not even a lock file or a store


def test_the_filesystem_root_is_refused() -> None:
    """Checked without a build: a broken check must not run a build into /."""
    with pytest.raises(ConfigError, match="^/: --out is the filesystem root; pass --out a new or empty directory"):
        outdir.check(Path("/"), [])


def test_the_demo_refuses_a_wrong_out_before_it_writes_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`demo --out <a folder of the user's>` is refused before the demo's events or store are written."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "precious").mkdir()
    (tmp_path / "precious" / "notes.txt").write_text("mine", encoding="utf-8")
    before = snapshot(tmp_path)
    assert main(["demo", "--no-serve", "--out", "precious"]) == 1
    assert "--out is not empty and is not a site this tool built" in capsys.readouterr().err
    assert snapshot(tmp_path) == before  # no data/demo-events, no store


def test_the_store_inside_the_site_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = project(tmp_path)
    assert build(cfg, str(tmp_path / "site")) == 0
    text = cfg.read_text(encoding="utf-8").replace(str(tmp_path / "store.duckdb"), str(tmp_path / "site/store.duckdb"))
    cfg.write_text(text, encoding="utf-8")
    capsys.readouterr()
    before = snapshot(tmp_path)
    assert build(cfg, str(tmp_path / "site")) == 1
    err = capsys.readouterr().err
    assert f"--out holds the store ({tmp_path / 'site' / 'store.duckdb'})" in err
    assert "set [store].path outside the output directory" in err
    assert snapshot(tmp_path) == before


def test_an_empty_or_own_directory_is_replaced(tmp_path: Path) -> None:
    cfg = project(tmp_path)
    (tmp_path / "empty").mkdir()
    assert build(cfg, str(tmp_path / "empty")) == 0
    assert (tmp_path / "empty" / incremental.MANIFEST).is_file()
    assert build(cfg, str(tmp_path / "empty")) == 0  # its own output now


# A random tree: files and folders with names a user's folder has, one of them maybe the marker's name.
NAMES = st.sampled_from(["a.txt", "notes", ".git", "stats.toml", "index.html", incremental.MANIFEST, "CNAME", "x"])
TREES = st.dictionaries(
    st.lists(NAMES, min_size=1, max_size=3).map(lambda parts: "/".join(parts)),
    st.one_of(st.binary(max_size=20), st.just(b'{"format": "something else"}')),
    max_size=5,
)


def plant(root: Path, tree: dict[str, bytes]) -> None:
    """Write a tree; a path that would need a file as a folder is skipped."""
    root.mkdir(parents=True, exist_ok=True)
    for rel, data in sorted(tree.items()):
        path = root / rel
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                path.write_bytes(data)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tree=TREES, own=st.booleans())
def test_property_random_trees_are_refused_untouched_or_were_the_tools_own_output(
    tree: dict[str, bytes], own: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        cfg = project(work)
        out = work / "out"
        if own:
            assert build(cfg, str(out)) == 0  # the tool's own output, then the user's files in it
        plant(out, tree)
        was_empty = not any(out.iterdir())
        before = snapshot(out)
        code = build(cfg, str(out))
        if code != 0:
            assert snapshot(out) == before
        else:
            assert own or was_empty
            assert (out / incremental.MANIFEST).is_file()
        shutil.rmtree(work)


# -- item 3: [site].static, and a warning for the user's files in the old site ---------------------------
def test_static_files_are_copied_into_every_build_and_others_are_named(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    static = tmp_path / "static"
    (static / "extra").mkdir(parents=True)
    (static / "CNAME").write_text("stats.example.org\n", encoding="utf-8")
    (static / "extra" / "notes.html").write_text("<p>mine</p>", encoding="utf-8")
    cfg = project(tmp_path, extra=f'[site]\nstatic = "{static}"\n')
    cfg.write_text(cfg.read_text(encoding="utf-8").replace('[site]\ntitle = "Test"\n', ""), encoding="utf-8")
    site = tmp_path / "site"
    assert build(cfg, str(site)) == 0
    (site / "google1234.html").write_text("google-site-verification", encoding="utf-8")
    (site / "added").mkdir()
    (site / "added" / "a.txt").write_text("a", encoding="utf-8")
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert build(cfg, str(site)) == 0
    for rel in ("CNAME", "extra/notes.html"):
        assert (site / rel).read_bytes() == (static / rel).read_bytes()
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "2 file(s) in the previous site were not written by this build and will not be carried over:" in warnings[0]
    assert "added/a.txt, google1234.html" in warnings[0]
    assert "[site].static" in warnings[0]


def test_a_static_file_may_not_replace_a_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    static = tmp_path / "static"
    static.mkdir()
    (static / "index.html").write_text("mine", encoding="utf-8")
    cfg = project(tmp_path)
    cfg.write_text(
        cfg.read_text(encoding="utf-8").replace('[site]\ntitle = "Test"\n', f'[site]\nstatic = "{static}"\n'),
        encoding="utf-8",
    )
    assert build(cfg, str(tmp_path / "site")) == 1
    assert "has the path of a file the site writes (index.html)" in capsys.readouterr().err
    assert not (tmp_path / "site").exists()


# -- `sample --out` replaces only synthetic events it wrote ------------------------------------------------
def test_sample_never_replaces_real_events(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    real = write_events(tmp_path / "events", [event("2026-10-01")], name="export-000.jsonl")
    before = snapshot(real)
    assert main(["sample", "--out", str(real), "--scale", "0.001"]) == 1
    err = capsys.readouterr().err
    assert "--out is not empty and holds no synthetic events written before (no SYNTHETIC.json)" in err
    assert snapshot(real) == before
    own = tmp_path / "synthetic"
    assert main(["sample", "--out", str(own), "--scale", "0.001"]) == 0
    assert main(["sample", "--out", str(own), "--scale", "0.001", "--seed", "7"]) == 0  # its own: replaced
