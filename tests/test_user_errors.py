"""Mistakes a user makes are answered in one line, before any work, with a non-zero exit.

Driven through the CLI in-process (`generator.cli.main`); Ctrl-C needs a real process and a signal.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from conftest import DEMO_AS_OF, INTERRUPTED, build_process, event, interrupt, write_config, write_events

from generator import parallel, sample
from generator.cli import main
from generator.dates import utc_today


def config(tmp_path: Path, extra: str = "", history_days: int = 30) -> Path:
    events = write_events(tmp_path / "events", [event("2026-10-31")])
    cfg = write_config(tmp_path / "stats.toml", events, ["acme"], "2026-10-31", history_days=history_days)
    if extra:
        cfg.write_text(cfg.read_text(encoding="utf-8").replace("[site]\n", f"[site]\n{extra}\n"), encoding="utf-8")
    return cfg


def one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str]) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 1, err
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err, err
    return err


# -- item 10: the report date must be a day PyPI's logs can cover ------------------------------------------
TOMORROW = utc_today() + dt.timedelta(days=1)


@pytest.mark.parametrize("command", ["build", "plan"])
@pytest.mark.parametrize(
    "as_of",
    ["0001-01-01", "9999-12-31", "2015-12-31", (TOMORROW + dt.timedelta(days=1)).isoformat()],
)
def test_an_as_of_outside_the_logs_is_refused_up_front(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str, as_of: str
) -> None:
    cfg = config(tmp_path)
    err = one_line_error(
        capsys,
        [
            command,
            "--config",
            str(cfg),
            "--as-of",
            as_of,
            *(["--out", str(tmp_path / "site")] if command == "build" else []),
        ],
    )
    assert f"--as-of: {as_of} is outside the days PyPI's download logs cover" in err
    assert f"from 2016-01-01 (the public table starts in 2016) to {TOMORROW.isoformat()}" in err
    assert not (tmp_path / "site").exists()
    assert not (tmp_path / "store.duckdb").exists()


def test_an_as_of_in_the_config_is_checked_too(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = config(tmp_path)
    cfg.write_text(cfg.read_text(encoding="utf-8").replace('as_of = "2026-10-31"', 'as_of = "9999-12-31"'))
    err = one_line_error(capsys, ["plan", "--config", str(cfg)])
    assert "as_of: 9999-12-31 is outside the days" in err


# -- item 11 and item 7's config half --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("extra", "history_days", "message"),
    [
        (
            'base_url = "example.com/stats"',
            30,
            "[site].base_url must be an absolute http(s) URL such as https://example.github.io/stats/,"
            " got 'example.com/stats'",
        ),
        ('base_url = "ftp://example.com/"', 30, "[site].base_url must be an absolute http(s) URL"),
        ('base_url = "/stats/"', 30, "[site].base_url must be an absolute http(s) URL"),
        ("", 29, "[source].history_days must be between 30 (the headline's window) and 5000, got 29"),
        ('static = "nowhere"', 30, "[site].static: "),
    ],
)
def test_config_values_that_would_mislead_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: str, history_days: int, message: str
) -> None:
    cfg = config(tmp_path, extra, history_days)
    err = one_line_error(capsys, ["build", "--config", str(cfg), "--out", str(tmp_path / "site")])
    assert message in err
    assert not (tmp_path / "site").exists()


def test_an_absolute_base_url_is_accepted(tmp_path: Path) -> None:
    cfg = config(tmp_path, 'base_url = "https://example.com/stats"')
    assert main(["build", "--config", str(cfg), "--out", str(tmp_path / "site"), "--jobs", "1"]) == 0
    assert "<loc>https://example.com/stats/packages/acme/</loc>" in (tmp_path / "site/sitemap.xml").read_text()


# -- item 9: Ctrl-C answers the same way in every phase ---------------------------------------------------
def wait_for(path: Path, proc: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert proc.poll() is None, "the build ended before the phase began"
        assert time.monotonic() < deadline, f"{path.name} never appeared"
        time.sleep(0.002)


@pytest.mark.parametrize(
    ("phase", "marker"),
    [
        ("reading the event files", "store.duckdb.lock"),  # the store's lock is taken before the source opens
        ("aggregating", "store.duckdb"),  # the store opens, then the one big query runs
        ("rendering", ".site.staging"),
    ],
)
def test_ctrl_c_is_one_line_and_exit_130_in_every_phase(
    demo_events: Path, tmp_path: Path, phase: str, marker: str
) -> None:
    cfg = write_config(tmp_path / "stats.toml", demo_events, list(sample.DEMO_PACKAGES), DEMO_AS_OF, history_days=210)
    args = ("-m", "generator", "build", "--config", str(cfg), "--out", str(tmp_path / "site"), "--jobs", "2")
    with build_process(*args) as proc:
        wait_for(tmp_path / marker, proc)
        stopped = interrupt(proc)
    assert stopped == (130, INTERRUPTED), phase
    assert not (tmp_path / "site").exists()
    assert not (tmp_path / ".site.staging").exists()


def test_a_ctrl_c_while_page_workers_start_is_answered_once_they_have_started() -> None:
    """The kernel may hand the build's SIGINT to any of its threads (progress display, DuckDB, vl-convert):
    Python then raises it in the main thread wherever that is, here in the middle of starting a worker,
    whose start-up data is cut (it printed `EOFError: Ran out of input` under the one-line message)."""
    steps: list[str] = []
    with pytest.raises(KeyboardInterrupt), parallel._ctrl_c_held():
        sender = threading.Thread(target=os.kill, args=(os.getpid(), signal.SIGINT))
        sender.start()
        sender.join()
        time.sleep(0.05)  # the main thread runs bytecode: where Python answers a pending signal
        steps.append("workers started")
    assert steps == ["workers started"]
