"""Shared fixtures: hand-built events, configs, and a demo site built once per session."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


_NO_PYPI: Any = None
_NO_CLICKPY: Any = None


def pytest_configure(config: pytest.Config) -> None:
    """Builds never ask pypi.org or ClickPy: every test (and every process it starts, which inherits the
    environment) reaches local fakes that know no project, unless a test points a config elsewhere:
    - PyPI's JSON API answers 404, as pypi.org answers for an unknown project;
    - ClickPy is a fake ClickHouse with ClickPy's tables, empty: it runs the real SQL on chdb and, as
      ClickPy answers for a package it does not hold, returns no row (so the days before the store are 0)."""
    global _NO_PYPI, _NO_CLICKPY
    from tests.fakes.clickhouse_server import ClickPyData, FakeClickHouse
    from tests.fakes.pypi_json import FakePyPIJson

    _NO_PYPI = FakePyPIJson().start()
    os.environ["PYPI_STATS_PYPI_URL"] = _NO_PYPI.url
    _NO_CLICKPY = FakeClickHouse(ClickPyData([])).start()
    os.environ["PYPI_STATS_CLICKPY_URL"] = _NO_CLICKPY.url


def pytest_unconfigure(config: pytest.Config) -> None:
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


def run_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run `python -m generator ...` in a subprocess, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "generator", *args],
        cwd=cwd or ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
    )


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
