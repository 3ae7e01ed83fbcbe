"""Shared fixtures: hand-built events, configs, and a demo site built once per session."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable, Collection, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


_NO_PYPI: Any = None
_NO_CLICKPY: Any = None


def pytest_configure(config: pytest.Config) -> None:
    """Builds never ask pypi.org or ClickPy, nor read the user's cache: every test (and every process it
    starts, which inherits the environment) reaches local fakes that know no project, unless a test points
    a config elsewhere:
    - PyPI's JSON API answers 404, as pypi.org answers for an unknown project;
    - ClickPy is a fake ClickHouse with ClickPy's tables, empty: it runs the real SQL on chdb and, as
      ClickPy answers for a package it does not hold, returns no row (so the days before the store are 0)."""
    global _NO_PYPI, _NO_CLICKPY
    from generator import usercache
    from tests.fakes.clickhouse_server import ClickPyData, FakeClickHouse
    from tests.fakes.pypi_json import FakePyPIJson

    _NO_PYPI = FakePyPIJson().start()
    os.environ["PYPI_STATS_PYPI_URL"] = _NO_PYPI.url
    _NO_CLICKPY = FakeClickHouse(ClickPyData([])).start()
    os.environ["PYPI_STATS_CLICKPY_URL"] = _NO_CLICKPY.url
    # What a build keeps in the user's cache folder (generator.usercache: chart shapes, SQL translations,
    # compiled templates): in this run's own folder, never the user's, so each run makes them once from
    # the code under test.
    os.environ[usercache.CACHE_ENV] = tempfile.mkdtemp(prefix="pypi-stats-cache-")


def pytest_unconfigure(config: pytest.Config) -> None:
    from generator import usercache

    if usercache.CACHE_ENV in os.environ:  # the run's own folder, made in pytest_configure
        shutil.rmtree(os.environ[usercache.CACHE_ENV], ignore_errors=True)
    if _NO_PYPI is not None:
        _NO_PYPI.stop()
    if _NO_CLICKPY is not None:
        _NO_CLICKPY.stop()
        _NO_CLICKPY.data.close()


def event(
    day: str = "2026-10-01",
    project: str = "acme",
    installer: str | None = "pip",
    python: str | None = "3.12.1",
    ci: bool | None = None,
    time: str = "12:00:00",
    **details: Any,
) -> dict[str, Any]:
    """One raw download event in BigQuery's export shape (NDJSON)."""
    return {
        "timestamp": f"{day} {time}.000000 UTC",
        "country_code": details.pop("country", "US"),
        "url": f"/packages/{project}.whl",
        "project": project,
        "file": {
            "filename": f"{project}-1.0-py3-none-any.whl",
            "project": project,
            "version": details.pop("version", "1.0"),
            "type": details.pop("file_type", "bdist_wheel"),
        },
        "details": {
            "installer": None if installer is None else {"name": installer, "version": details.pop("iv", "24.0")},
            "python": python,
            "implementation": {"name": details.pop("implementation", "CPython"), "version": python},
            "distro": {"name": details.pop("distro", "Ubuntu"), "version": "24.04", "id": None, "libc": None},
            "system": {"name": details.pop("system", "Linux"), "release": "6.1"},
            "cpu": "x86_64",
            "openssl_version": None,
            "setuptools_version": None,
            "rustc_version": None,
            "ci": ci,
        },
        "tls_protocol": "TLSv1.3",
        "tls_cipher": "TLS_AES_128_GCM_SHA256",
    }


def write_events(directory: Path, events: list[dict[str, Any]], name: str = "events.jsonl") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / name).open("w", encoding="utf-8") as fh:
        for e in events:
            fh.write(json.dumps(e) + "\n")
    return directory


def write_config(
    path: Path, events_dir: Path, packages: list[str], as_of: str, history_days: int = 40, extra: str = ""
) -> Path:
    path.write_text(
        f'as_of = "{as_of}"\n[site]\ntitle = "Test"\n[packages]\nnames = {json.dumps(packages)}\n'
        f'[source]\nkind = "local"\npath = "{events_dir}"\nhistory_days = {history_days}\n'
        f'[store]\npath = "{path.parent / "store.duckdb"}"\n{extra}',
        encoding="utf-8",
    )
    return path


class Sleeps(list[float]):
    """Records a retry policy's backoff sleeps instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def make_site(tmp_path: Path) -> Callable[..., Path]:
    """Build a site from a list of events; returns the site directory."""
    from generator import build, config

    def _make(events: list[dict[str, Any]], packages: list[str], as_of: str, history_days: int = 40) -> Path:
        events_dir = write_events(tmp_path / "events", events)
        cfg = config.load(write_config(tmp_path / "stats.toml", events_dir, packages, as_of, history_days))
        out = tmp_path / "site"
        build.build(cfg, as_of=dt.date.fromisoformat(as_of), out_dir=out)
        return out

    return _make


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run `pypi-stats-site ...` in-process through `generator.cli.main`, answered as a process would answer.

    The exit code is main's return value, argparse's SystemExit code, or 1 with Python's traceback on stderr
    for an unexpected exception. What main changes for the process is put back afterwards: the working
    directory, os.environ, the root logger (cleared first, so main's logging setup runs as in a fresh process)
    and the consoles, which write into the captured output without colour, as into a pipe.
    A real process is needed only where it is the point (signals, locks held by two builds, wheel installs)."""
    from rich.console import Console

    from generator import cli

    stdout, stderr = io.StringIO(), io.StringIO()
    root = logging.getLogger()
    saved = (os.getcwd(), os.environ.copy(), root.handlers[:], root.level, cli.out, cli.err)
    try:
        os.chdir(cwd or ROOT)
        os.environ.update(env or {})
        root.handlers = []
        cli.out = Console(file=stdout, highlight=False, soft_wrap=True)
        cli.err = Console(file=stderr, highlight=False, soft_wrap=True)
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = _exit_code(cli.main, list(args))
    finally:
        cwd_before, env_before, handlers, level, cli.out, cli.err = saved
        os.chdir(cwd_before)
        os.environ.clear()
        os.environ.update(env_before)
        root.handlers = handlers
        root.setLevel(level)
    return subprocess.CompletedProcess(["pypi-stats-site", *args], code, stdout.getvalue(), stderr.getvalue())


def _exit_code(main: Callable[[list[str]], int], argv: list[str]) -> int:
    """The exit status the interpreter would give `sys.exit(main(argv))`."""
    try:
        return main(argv)
    except SystemExit as exc:
        if exc.code is None or isinstance(exc.code, int):
            return exc.code or 0
        print(exc.code, file=sys.stderr)
        return 1
    except Exception:
        traceback.print_exc()
        return 1


def run_cli_process(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m generator ...` in a real subprocess, where a process is the point."""
    return subprocess.run(
        [sys.executable, "-m", "generator", *args],
        cwd=cwd or ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )


INTERRUPTED = "interrupted; the previous site is unchanged, and days fetched before the interrupt are kept\n"
"""All a build prints when Ctrl-C stops it (exit 130)."""


@contextlib.contextmanager
def build_process(*args: str, env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[str]]:
    """`python <args>` (a build, or a driver around one) running while the test drives it; killed if the
    test ends while it still runs."""
    proc = subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()


def interrupt(proc: subprocess.Popen[str]) -> tuple[int, str]:
    """Ctrl-C (SIGINT) to a running build, then its exit status and what it printed on stderr."""
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    return proc.returncode, err


DEMO_AS_OF = "2026-10-31"


@pytest.fixture(scope="session")
def demo_events(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthetic demo events (NDJSON, reduced scale) so tests can count them independently."""
    from generator import sample

    out = tmp_path_factory.mktemp("demo-events")
    sample.generate(out, scale=0.15, fmt="ndjson")
    return out


@pytest.fixture(scope="session")
def demo_site(tmp_path_factory: pytest.TempPathFactory, demo_events: Path) -> Path:
    """The demo site built once through the CLI from the synthetic events."""
    from generator import sample

    work = tmp_path_factory.mktemp("demo-build")
    cfg = write_config(work / "stats.toml", demo_events, list(sample.DEMO_PACKAGES), DEMO_AS_OF, history_days=210)
    proc = run_cli("build", "--config", str(cfg), "--out", str(work / "site"))
    assert proc.returncode == 0, proc.stderr
    return work / "site"


# -- registries: a name declared once is spelled nowhere else -----------------------------------------
Spelled = Callable[[Path, str], Iterable[tuple[int, str]]]
"""(file, its path relative to the repository) → (line, literal) for each spelling the check looks for."""


def code_and_templates() -> list[Path]:
    return [*sorted((ROOT / "generator").rglob("*.py")), *sorted((ROOT / "templates").rglob("*.html"))]


def spelled_outside(files: Iterable[Path], registry: Collection[str], spelled: Spelled) -> list[str]:
    """`file:line: literal` for each spelling in `files`, but in the files of the registry that declares them."""
    out = []
    for path in files:
        rel = path.relative_to(ROOT).as_posix()
        if rel not in registry:
            out += [f"{rel}:{line}: {text!r}" for line, text in spelled(path, rel)]
    return out
