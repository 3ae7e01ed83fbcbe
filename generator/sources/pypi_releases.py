"""Release dates from PyPI's JSON API (https://docs.pypi.org/api/json/): each release's upload time.

A release's upload time is the earliest `upload_time_iso_8601` among its files in `releases[version]`.
The store keeps them (Store.record_releases), so PyPI is asked about a package only when the data shows
a version the store has no date for. Offline or on an error the build goes on with one warning line,
and the page says "first seen in the data" for releases without a date.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import logging
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from generator.sources import retry
from generator.sources.clickpy import user_agent
from generator.store import Store

log = logging.getLogger(__name__)

DEFAULT_URL = "https://pypi.org/pypi"
URL_ENV = "PYPI_STATS_PYPI_URL"
"""Overrides the default base URL when [source].pypi_url is not set (tests point it at a local fake)."""
TIMEOUT_SECONDS = 10.0
TRANSIENT_STATUS = frozenset({429, 500, 502, 503, 504})


class PyPIError(Exception):
    """One failed request to PyPI's JSON API."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


@dataclass(frozen=True)
class RetryPolicy(retry.RetryPolicy):
    """Release dates are a nicety: a short total deadline, so an unreachable PyPI delays a build little."""

    deadline_seconds: float = 30.0
    max_attempts: int = 3


def base_url(configured: str) -> str:
    """[source].pypi_url, else $PYPI_STATS_PYPI_URL, else pypi.org's JSON API."""
    return (configured or os.environ.get(URL_ENV, "").strip() or DEFAULT_URL).rstrip("/")


def upload_times(payload: Mapping[str, Any]) -> dict[str, dt.datetime | None]:
    """version → the earliest upload time among its files (None for a release without files)."""
    out: dict[str, dt.datetime | None] = {}
    for version, files in (payload.get("releases") or {}).items():
        times = [_parse_time(f.get("upload_time_iso_8601")) for f in files or () if isinstance(f, dict)]
        known = [t for t in times if t is not None]
        out[str(version)] = min(known) if known else None
    return out


def _parse_time(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=dt.UTC)


@dataclass
class PyPIJson:
    """GETs /<project>/json with a descriptive User-Agent, a short timeout, and the project's retry policy."""

    url: str = DEFAULT_URL
    timeout: float = TIMEOUT_SECONDS
    retry: retry.RetryPolicy | None = None
    """Default: this module's RetryPolicy."""
    opener: Callable[..., Any] = urllib.request.urlopen

    def project(self, name: str) -> dict[str, Any] | None:
        """The project's JSON document; None when PyPI has no such project (404). Raises PyPIError."""
        policy = self.retry or RetryPolicy()
        deadline = policy.clock() + policy.deadline_seconds
        return retry.retrying(
            lambda: self._once(name),
            policy,
            deadline,
            transient=lambda exc: isinstance(exc, PyPIError) and exc.transient,
            give_up=lambda exc, attempts: PyPIError(f"{exc} ({attempts} attempts)", transient=False),
        )

    def _once(self, name: str) -> dict[str, Any] | None:
        request = urllib.request.Request(
            f"{self.url}/{urllib.parse.quote(name)}/json",
            headers={"User-Agent": user_agent(), "Accept": "application/json"},
        )
        try:
            with self.opener(request, timeout=self.timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as err:
            if err.code == 404:
                return None
            raise PyPIError(f"HTTP {err.code}", transient=err.code in TRANSIENT_STATUS) from None
        except (http.client.HTTPException, TimeoutError) as err:
            reason = f"no complete answer within {self.timeout:g} s ({type(err).__name__})"
            raise PyPIError(reason, transient=True) from None
        except (urllib.error.URLError, OSError) as err:
            raise PyPIError(f"cannot reach {self.url} ({getattr(err, 'reason', err)})", transient=True) from None
        try:
            payload = json.loads(body)
        except ValueError:
            raise PyPIError("the answer is not JSON", transient=False) from None
        if not isinstance(payload, dict):
            raise PyPIError("the answer is not a JSON object", transient=False)
        return payload


def update(store: Store, projects: Iterable[str], client: PyPIJson) -> list[str]:
    """Ask PyPI about each project whose data shows a version the store has no date for; keep the answers.

    Returns the projects PyPI was asked about. A project PyPI does not know (404) has its versions kept
    without a date, as are versions PyPI lists no file for: neither is asked about again. Errors leave
    the store as it was for that project and end in one warning line for all of them.
    """
    projects = list(projects)
    seen = store.versions_seen(projects)
    known = store.release_uploads(projects)
    asked: list[str] = []
    failed: list[str] = []
    reason = ""
    for project in projects:
        missing = seen[project] - known[project].keys()
        if not missing:
            continue
        asked.append(project)
        try:
            payload = client.project(project)
        except PyPIError as exc:
            failed.append(project)
            reason = str(exc)
            continue
        times = upload_times(payload) if payload is not None else {}
        if payload is None:
            log.info("release dates: %s is not on PyPI (404); its releases show when first seen in the data", project)
        store.record_releases(project, {**dict.fromkeys(missing), **times})
    if failed:
        log.warning(
            'release dates: could not get them from %s for %s (%s); those pages say "first seen in the data"'
            " until a later build gets them",
            client.url,
            ", ".join(failed),
            reason,
        )
    return asked
