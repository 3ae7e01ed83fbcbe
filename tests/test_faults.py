"""Faults: nothing is lost. A build killed at any point, a full disk, an unwritable output directory, two builds
at once and a corrupt store all leave the previous site complete and the store whole, and say what happened.

Sites are compared file by file (SHA-256), except two files that record history rather than content:
- the store's data export (`data/store/`) holds the coverage table's `fetched_at` times, in rows of no fixed
  order: its Parquet files are compared as sorted rows without those timestamps, its manifest without the
  files' sizes and hashes;
- `build-manifest.json` says which pages were rendered or reused from the previous build and why: compared
  without those fields.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from conftest import DEMO_AS_OF, ROOT, event, run_cli, run_cli_process, write_config, write_events

from generator import sample

PREVIOUS_AS_OF = "2026-10-30"
NEXT_DAY = "2026-11-01"
EXPORT = "data/store/"
BUILD_MANIFEST = "build-manifest.json"
TIMESTAMP_COLUMNS = {"fetched_at", "finished_at"}

# Runs the real CLI, printing a line when each stage starts and ends so a test can kill it inside one.
DRIVER = r"""
import os, sys, time
from generator import build, cli, fetch, sitewriter, store

# A test may hold the build at the start of one phase until it creates a file (HOLD_PHASE, HOLD_RELEASE).
HOLD, RELEASE = os.environ.get("HOLD_PHASE"), os.environ.get("HOLD_RELEASE", "")

def mark(name):
    sys.stdout.write(f"PHASE {name} {time.monotonic():.4f}\n")
    sys.stdout.flush()

def watch(owner, attr, name):
    inner = getattr(owner, attr, None)
    if inner is None:
        return
    def watched(*args, **kwargs):
        mark(name)
        while name == HOLD and not os.path.exists(RELEASE):
            time.sleep(0.02)
        try:
            return inner(*args, **kwargs)
        finally:
            mark(name + "-done")
    setattr(owner, attr, watched)

watch(fetch, "fetch", "fetch")
watch(store.Store, "replace_days", "store-write")
watch(build, "collect", "analyse")
watch(build, "render_packages", "render")
watch(sitewriter.SiteWriter, "publish", "publish")
mark("start")
sys.exit(cli.main(sys.argv[1:]))
"""


# -- fingerprints -----------------------------------------------------------------------------------
def _parquet_rows(path: Path) -> str:
    con = duckdb.connect()
    columns = [r[0] for r in con.execute("DESCRIBE SELECT * FROM read_parquet($p)", {"p": str(path)}).fetchall()]
    keep = ", ".join(f'"{c}"' for c in columns if c not in TIMESTAMP_COLUMNS)
    rows = con.execute(f"SELECT {keep} FROM read_parquet($p) ORDER BY ALL", {"p": str(path)}).fetchall()  # noqa: S608
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def site_fingerprint(site: Path) -> dict[str, str]:
    """Every file of a site → a hash of its content (the store export normalised, see the module doc)."""
    out = {}
    for path in sorted(site.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(site).as_posix()
        if rel.startswith(EXPORT) and path.suffix == ".parquet":
            out[rel] = "rows:" + _parquet_rows(path)
        elif rel == EXPORT + "manifest.json":
            manifest = json.loads(path.read_text(encoding="utf-8"))
            manifest["files"] = sorted(manifest.get("files", {}))
            out[rel] = "manifest:" + json.dumps(manifest, sort_keys=True)
        elif rel == BUILD_MANIFEST:
            out[rel] = "build:" + json.dumps(_without_history(json.loads(path.read_text(encoding="utf-8"))))
        else:
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _without_history(manifest: dict[str, Any]) -> dict[str, Any]:
    """The build manifest less what depends on the previous build in the directory (rendered or reused, why)."""
    manifest = {k: v for k, v in manifest.items() if k != "counts"}
    units = manifest.get("units", {})
    manifest["units"] = {
        name: {k: v for k, v in unit.items() if k not in ("status", "reason")} for name, unit in units.items()
    }
    return manifest


def store_state(path: Path) -> tuple[set[tuple[str, dt.date]], dict[tuple[str, dt.date], tuple]]:
    """(covered (project, day)s, per (project, day): a digest of its aggregate rows), read-only."""
    if not path.exists():
        return set(), {}
    con = duckdb.connect(str(path), read_only=True)
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if "coverage" not in tables:
            return set(), {}
        covered = {(p, d) for p, d in con.execute("SELECT project, day FROM coverage").fetchall()}
        rows = con.execute(
            "SELECT project, day, count(*), sum(downloads), sum(hash(installer, ci, python_malformed, breakdown,"
            " installer_major, python_minor, implementation, system, distro, country, file_type, version,"
            " downloads)) FROM aggregates GROUP BY ALL"
        ).fetchall()
    finally:
        con.close()
    return covered, {(p, d): tuple(rest) for p, d, *rest in rows}


def assert_no_partial_day(store: Path, reference: Path) -> int:
    """Every day the store calls complete holds exactly the reference's rows; no rows outside such days."""
    covered, digests = store_state(store)
    ref_covered, ref_digests = store_state(reference)
    assert set(digests) <= covered, f"rows for days not marked complete: {sorted(set(digests) - covered)[:5]}"
    assert covered <= ref_covered, sorted(covered - ref_covered)[:5]
    partial = [key for key in covered if digests.get(key) != ref_digests.get(key)]
    assert not partial, f"days that differ from an uninterrupted run: {sorted(partial)[:5]}"
    return len(covered)


# -- running builds ---------------------------------------------------------------------------------
class Build:
    """A CLI build in a subprocess, with the stage markers it prints, read as they come."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", DRIVER, *args],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.phases: list[tuple[str, float]] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._errors: list[str] = []
        self._error_reader = threading.Thread(target=lambda: self._errors.extend(self.proc.stderr), daemon=True)
        self._error_reader.start()
        self.stderr = ""

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("PHASE "):
                _, name, _ = line.split()
                with self._changed:
                    self.phases.append((name, time.monotonic()))
                    self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def wait_for(self, phase: str, occurrence: int = 1, timeout: float = 120) -> bool:
        """Block until the build enters `phase` (its n-th time); False if it ended without doing so."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while sum(name == phase for name, _ in self.phases) < occurrence:
                if self.proc.poll() is not None and not self._reader.is_alive():
                    return False
                assert time.monotonic() < deadline, f"no {phase} after {timeout}s: {self.phases}"
                self._changed.wait(0.05)
        return True

    def current(self) -> str:
        with self._changed:
            return self.phases[-1][0] if self.phases else "startup"

    def durations(self) -> dict[str, tuple[float, int]]:
        """Each stage's longest run: (seconds, which occurrence), e.g. the fetch job that wrote the most."""
        starts: dict[str, float] = {}
        seen: dict[str, int] = {}
        out: dict[str, tuple[float, int]] = {}
        for name, t in self.phases:
            if name.endswith("-done"):
                stage = name.removesuffix("-done")
                if stage not in out or t - starts[stage] > out[stage][0]:
                    out[stage] = (t - starts[stage], seen[stage])
            else:
                starts[name] = t
                seen[name] = seen.get(name, 0) + 1
        return out

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.finish()

    def finish(self, timeout: float = 300) -> int:
        self.proc.wait(timeout=timeout)
        self._reader.join(10)
        self._error_reader.join(10)
        self.stderr = "".join(self._errors)
        return self.proc.returncode


def one_line_error(stderr: str, *needles: str) -> str:
    # Warnings said before the failure (days missing from a window, say) are lines of their own.
    lines = [line for line in stderr.splitlines() if line.strip() and not line.startswith("warning:")]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error:"), stderr
    assert "Traceback" not in stderr
    message = " ".join(stderr.split())
    for needle in needles:
        assert needle in message, message
    return message


# -- SIGKILL at random points ----------------------------------------------------------------------
def test_sigkill_at_random_points_loses_nothing(tmp_path: Path, demo_events: Path) -> None:
    seed = int(os.environ.get("FAULT_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    packages = list(sample.DEMO_PACKAGES)[:2]  # two of the demo's packages: every stage, half the time
    cfg = write_config(tmp_path / "stats.toml", demo_events, packages, DEMO_AS_OF, history_days=210)
    store, site = tmp_path / "store.duckdb", tmp_path / "site"
    args = ["build", "--config", str(cfg), "--out", str(site)]

    first = Build(*args, "--as-of", PREVIOUS_AS_OF)  # the site and store a scheduled run starts from
    assert first.finish() == 0, first.stderr
    timing = first.durations()
    previous = site_fingerprint(site)
    # The reference: the same next run, uninterrupted, from a copy of that store.
    ref_dir = tmp_path / "reference"
    ref_dir.mkdir()
    for f in store.parent.glob("store.duckdb*"):
        shutil.copy(f, ref_dir / f.name)
    ref_cfg = write_config(ref_dir / "stats.toml", demo_events, packages, DEMO_AS_OF, 210)
    ref = Build("build", "--config", str(ref_cfg), "--out", str(ref_dir / "site"))
    assert ref.finish() == 0, ref.stderr
    expected = site_fingerprint(ref_dir / "site")
    assert expected != previous

    # (stage to kill in, which occurrence, extra args, seconds into it). --refresh makes the fetch query and
    # rewrite every day; the second kill lands inside the store transaction of the job that wrote the most.
    fetch_s, _ = timing["fetch"]
    write_s, write_n = timing["store-write"]
    plan = [
        ("fetch", 1, ["--refresh"], rng.uniform(0, 0.9 * fetch_s)),
        ("store-write", write_n, ["--refresh"], rng.uniform(0, 0.9 * write_s)),
        ("analyse", 1, [], rng.uniform(0, 0.9 * timing["analyse"][0])),
        ("render", 1, [], rng.uniform(0, 0.9 * timing["render"][0])),
        ("publish", 1, [], rng.uniform(0, 0.005)),
    ]
    outcomes = []
    for phase, occurrence, extra, delay in plan:
        run = Build(*args, "--as-of", DEMO_AS_OF, *extra)
        reached = run.wait_for(phase, occurrence)
        assert reached, f"the build ended before {phase}: {run.finish()} {run.stderr}"
        time.sleep(delay)
        at = run.current()
        run.kill()
        now = site_fingerprint(site)
        assert now in (previous, expected), f"killed in {at}: the site is neither the old nor the new one"
        days = assert_no_partial_day(store, ref_dir / "store.duckdb")
        outcomes.append(f"{phase}+{delay:.2f}s (in {at}): {'new' if now == expected else 'old'} site, {days} days")
    final = Build(*args, "--as-of", DEMO_AS_OF)
    assert final.finish() == 0, final.stderr
    assert site_fingerprint(site) == expected, "the run after the kills differs from an uninterrupted run"
    assert store_state(store) == store_state(ref_dir / "store.duckdb")
    assert not (tmp_path / ".site.staging").exists()
    assert not (tmp_path / ".site.old").exists()
    print(f"seed {seed} (FAULT_SEED to repeat): " + "; ".join(outcomes))


# -- a small site for the other faults ---------------------------------------------------------------
def small_events(days: int = 6, per_day: int = 3) -> list[dict[str, Any]]:
    out = []
    for i in range(days):
        day = (dt.date(2026, 10, 31) - dt.timedelta(days=i)).isoformat()
        for j in range(per_day):
            out.append(event(day=day, installer=("pip", "uv", "bandersnatch")[j % 3], version=f"1.{i % 3}"))
    return out


def small_config(tmp_path: Path, store: Path | None = None) -> Path:
    """A one-package config over `small_events()`, its store at `store` (default: beside the config)."""
    events = write_events(tmp_path / "events", small_events())
    cfg = write_config(tmp_path / "stats.toml", events, ["acme"], DEMO_AS_OF, history_days=30)
    if store is not None:
        text = cfg.read_text(encoding="utf-8").replace(str(tmp_path / "store.duckdb"), str(store))
        cfg.write_text(text, encoding="utf-8")
    return cfg


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A small store and site, built once; tests damage or reuse copies of them."""
    work = tmp_path_factory.mktemp("pristine")
    cfg = small_config(work)
    proc = run_cli("build", "--config", str(cfg), "--out", str(work / "site"))
    assert proc.returncode == 0, proc.stderr
    return work / "store.duckdb", work / "site"


def small_copy(
    tmp_path: Path, pristine: tuple[Path, Path], out: Path | None = None, store: Path | None = None
) -> tuple[Path, Path]:
    """A copy of the small site and its store, as a previous build left them; returns (config, site)."""
    store = store or tmp_path / "store.duckdb"
    site = out or tmp_path / "site"
    cfg = small_config(tmp_path, store)
    shutil.copy(pristine[0], store)
    shutil.copytree(pristine[1], site)
    return cfg, site


@contextlib.contextmanager
def tmpfs(path: Path, size: str) -> Iterator[Path]:
    """A small RAM filesystem at `path` (root only), so a real ENOSPC can be provoked."""
    path.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {proc.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def resize(path: Path, size: str) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size}", str(path)], check=True)


def used_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return (st.f_blocks - st.f_bfree) * st.f_frsize


# -- disk full -------------------------------------------------------------------------------------
def test_a_full_disk_while_writing_the_site_keeps_the_old_site(tmp_path: Path, pristine: tuple[Path, Path]) -> None:
    with tmpfs(tmp_path / "disk", "16m") as disk:
        cfg, site = small_copy(tmp_path, pristine, out=disk / "site")
        before = site_fingerprint(site)
        used = used_bytes(disk)
        resize(disk, str(used + used // 3))  # room for a third of a second copy, which the staging needs
        # The next day's report: every page changes, so none can be linked from the live site.
        proc = run_cli("build", "--config", str(cfg), "--out", str(site), "--as-of", NEXT_DAY)
        assert proc.returncode == 1, proc.stderr
        one_line_error(proc.stderr, "disk full", "the previous site is unchanged")
        assert site_fingerprint(site) == before
        assert [p.name for p in disk.iterdir() if p.name != ".site.lock"] == ["site"], "staging left behind"
        assert used_bytes(disk) <= used + 4096, "the half-written staging directory was not removed"


def test_a_full_disk_while_writing_the_store_keeps_the_store(
    tmp_path: Path, demo_events: Path, pristine: tuple[Path, Path]
) -> None:
    with tmpfs(tmp_path / "disk", "16m") as disk:
        store = disk / "store.duckdb"
        cfg, site = small_copy(tmp_path, pristine, store=store)
        before_site, before_store = site_fingerprint(site), store_state(store)
        assert before_store[0], "the first build stored nothing"
        resize(disk, str(used_bytes(disk) + 256 * 1024))
        # The same store, now fed all the demo events: far more than the disk can take.
        text = cfg.read_text(encoding="utf-8").replace(str(tmp_path / "events"), str(demo_events))
        big = tmp_path / "big.toml"
        big.write_text(text.replace('["acme"]', json.dumps(list(sample.DEMO_PACKAGES))), encoding="utf-8")
        proc = run_cli("build", "--config", str(big), "--out", str(site), "--refresh")
        assert proc.returncode == 1, proc.stderr
        one_line_error(proc.stderr, "disk is full", "free some space")
        assert site_fingerprint(site) == before_site
        assert store_state(store) == before_store, "the failed job changed the store"


def _file_size_limit(limit: int):  # noqa: ANN202
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_write_error_while_rendering_keeps_the_old_site(tmp_path: Path, pristine: tuple[Path, Path]) -> None:
    """Without root: RLIMIT_FSIZE makes any write past 32 KiB fail (EFBIG), as a full disk would (ENOSPC).

    It proves the same path (an OSError from a write during rendering) but not ENOSPC itself; the tmpfs test
    above does that where it can mount.
    """
    cfg, site = small_copy(tmp_path, pristine)
    before, store_before = site_fingerprint(site), store_state(tmp_path / "store.duckdb")
    assert max(p.stat().st_size for p in site.rglob("*") if p.is_file()) > 32 * 1024
    proc = subprocess.run(
        [sys.executable, "-m", "generator", "build", "--config", str(cfg), "--out", str(site), "--no-fetch"]
        + ["--as-of", NEXT_DAY],  # every page changes, so none can be linked from the live site
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_file_size_limit(32 * 1024),  # noqa: PLW1509 - the point of the test
    )
    assert proc.returncode == 1, proc.stderr
    one_line_error(proc.stderr, "File too large")
    assert site_fingerprint(site) == before
    assert store_state(tmp_path / "store.duckdb") == store_before
    assert not (tmp_path / ".site.staging").exists()


# -- an unwritable output directory ------------------------------------------------------------------
@contextlib.contextmanager
def read_only(directory: Path) -> Iterator[None]:
    """Make `directory` unwritable: chmod for a normal user, a read-only bind mount for root."""
    if os.geteuid() != 0:
        mode = directory.stat().st_mode
        directory.chmod(0o555)
        try:
            yield
        finally:
            directory.chmod(mode)
        return
    bind = subprocess.run(["mount", "--bind", str(directory), str(directory)], capture_output=True)
    if bind.returncode != 0:
        pytest.skip(f"cannot make a read-only bind mount: {bind.stderr.decode().strip()}")
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(directory)], check=True)
        yield
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)


def test_an_unwritable_output_directory_is_a_clear_error_and_keeps_the_site(
    tmp_path: Path, pristine: tuple[Path, Path]
) -> None:
    parent = tmp_path / "public"
    parent.mkdir()
    cfg, site = small_copy(tmp_path, pristine, out=parent / "site")
    before = site_fingerprint(site)
    with read_only(parent):
        proc = run_cli("build", "--config", str(cfg), "--out", str(site))
    assert proc.returncode == 1, proc.stderr
    message = one_line_error(proc.stderr, "cannot write the site here", "the previous site is unchanged")
    assert "Read-only file system" in message or "Permission denied" in message
    assert site_fingerprint(site) == before


# -- two builds at once ------------------------------------------------------------------------------
def test_a_second_build_is_refused_and_corrupts_nothing(
    tmp_path: Path, demo_events: Path, demo_site: Path, pristine: tuple[Path, Path]
) -> None:
    """While one build runs: the same store is refused (lock), and so is the same output directory with another
    store (the second build would otherwise clear the first one's staging directory). The first completes."""
    other_cfg, other_site = small_copy(tmp_path / "other", pristine)  # its own store, already filled
    cfg = write_config(tmp_path / "stats.toml", demo_events, list(sample.DEMO_PACKAGES), DEMO_AS_OF, history_days=210)
    site = tmp_path / "site"
    release = tmp_path / "release"
    # Held at the start of rendering until the contenders are done: however fast the machine renders the
    # demo, they meet the first build while it holds both locks.
    first = Build(
        "build", "--config", str(cfg), "--out", str(site), env={"HOLD_PHASE": "render", "HOLD_RELEASE": str(release)}
    )
    assert first.wait_for("fetch")  # it holds the store's lock from here to the end
    # Each contender is a process of its own, as a second user's build would be: locks are between processes.
    same_store = run_cli_process("build", "--config", str(cfg), "--out", str(tmp_path / "elsewhere"))
    plan = run_cli_process("plan", "--config", str(cfg))
    assert first.wait_for("render")  # it holds the output directory's lock from here to the end
    same_site = run_cli_process("build", "--config", str(other_cfg), "--out", str(site), "--no-fetch")
    overlapped = first.current() == "render"
    release.touch()
    assert first.finish() == 0, first.stderr
    assert overlapped, "the first build finished rendering before the second one started: no overlap to test"
    assert same_store.returncode == 1
    one_line_error(same_store.stderr, "another build holds the store lock", "wait for it to finish")
    assert plan.returncode == 1
    one_line_error(plan.stderr, "another build holds the store lock")
    assert same_site.returncode == 1
    one_line_error(same_site.stderr, "another build is writing this site", "wait for it to finish")
    assert not (tmp_path / "elsewhere").exists()
    assert site_fingerprint(site) == site_fingerprint(demo_site), "the published site is not the first build's"
    assert store_state(tmp_path / "store.duckdb") == store_state(demo_site.parent / "store.duckdb")
    assert other_site.is_dir()


# -- a corrupt store ---------------------------------------------------------------------------------
def _block_offset(store: Path) -> int:
    """Where in the file a block of the aggregates table's data lives (so only a query finds the damage)."""
    con = duckdb.connect(str(store), read_only=True)
    try:
        block_size = con.execute("SELECT block_size FROM pragma_database_size()").fetchone()[0]
        block_id, offset = con.execute(
            "SELECT block_id, block_offset FROM pragma_storage_info('aggregates')"
            " WHERE block_id >= 0 AND column_name = 'installer' ORDER BY block_id LIMIT 1"
        ).fetchone()
    finally:
        con.close()
    return 3 * 4096 + block_id * block_size + 8 + offset  # three header blocks, then a checksum per block


def _overwrite(path: Path, at: int, data: bytes) -> None:
    with path.open("r+b") as fh:
        fh.seek(at)
        fh.write(data)


CORRUPTIONS = {
    "random-bytes": lambda p: p.write_bytes(os.urandom(p.stat().st_size)),
    "truncated-half": lambda p: os.truncate(p, p.stat().st_size // 2),
    "zero-length": lambda p: os.truncate(p, 0),
    "header-damaged": lambda p: _overwrite(p, 4096 + 100, b"\xa5" * 64),
    "data-block-damaged": lambda p: _overwrite(p, _block_offset(p), b"\xa5" * 64),
}


@pytest.mark.parametrize("kind", list(CORRUPTIONS))
def test_a_corrupt_store_is_named_with_the_way_to_rebuild(
    tmp_path: Path, pristine: tuple[Path, Path], kind: str
) -> None:
    cfg, site = small_copy(tmp_path, pristine)
    store = tmp_path / "store.duckdb"
    CORRUPTIONS[kind](store)
    damaged = store.read_bytes()
    before = site_fingerprint(site)
    proc = run_cli("build", "--config", str(cfg), "--out", str(site))
    assert proc.returncode == 1, f"{kind}: the build went on: {proc.stderr}"
    message = one_line_error(proc.stderr, str(store), "corrupt", "move it away and run build again")
    assert site_fingerprint(site) == before, message
    assert store.read_bytes() == damaged, "the build rewrote the damaged store (it must not start from empty)"


def test_a_garbage_wal_is_ignored_and_the_store_keeps_its_days(tmp_path: Path, pristine: tuple[Path, Path]) -> None:
    """DuckDB skips a write-ahead log that is not one of its own: the committed store is still all there."""
    cfg, site = small_copy(tmp_path, pristine)
    store = tmp_path / "store.duckdb"
    (tmp_path / "store.duckdb.wal").write_bytes(os.urandom(20_000))
    before = store_state(pristine[0])
    proc = run_cli("build", "--config", str(cfg), "--out", str(site), "--no-fetch")
    assert proc.returncode == 0, proc.stderr
    assert store_state(store) == before, "the store lost days"
    assert before[0], "the store lost days"
    assert site_fingerprint(site) == site_fingerprint(pristine[1])
