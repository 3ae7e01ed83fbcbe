"""The BigQuery permissions the tool needs, declared once: the README's setup table, the one-line error
of a refused call, and the tests' fake identity all read `PERMISSIONS`.

Each entry names the permission, the smallest predefined role that grants it, and Google's page that
says the call needs it. Reading `bigquery-public-data.pypi.file_downloads` needs nothing more: a
public dataset is readable by every authenticated identity (https://cloud.google.com/bigquery/public-data);
the query job that reads it is billed to, and needs `bigquery.jobs.create` on, the billing project.
So does the partition-metadata query (`INFORMATION_SCHEMA.PARTITIONS` of the public dataset): the
`bigquery.tables.get` and `bigquery.tables.list` it needs on that dataset come with the same public grant
(https://cloud.google.com/bigquery/docs/information-schema-partitions#required_permissions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Permission:
    name: str
    """The IAM permission, e.g. `bigquery.jobs.create`."""
    role: str
    """The smallest predefined role that grants it (on the billing project)."""
    doc: str
    """Google's page that says which call needs it."""
    required: bool
    """False: without it the tool still builds, with one warning saying what it cannot do."""
    used_for: str
    """What the tool does with it, in a few words."""


PERMISSIONS: tuple[Permission, ...] = (
    Permission(
        "bigquery.jobs.create",
        "roles/bigquery.jobUser",
        "https://cloud.google.com/bigquery/docs/jobs-overview#required_permissions",
        True,
        "run the query jobs and their free dry runs in the billing project (the job's creator may then "
        "read its status and results: jobs.get is granted on one's own jobs)",
    ),
    Permission(
        "bigquery.jobs.list",
        "roles/bigquery.user",
        "https://cloud.google.com/bigquery/docs/reference/rest/v2/jobs/list",
        False,
        "read this month's bill of the tool's earlier jobs when the store's ledger is new (jobs.list; "
        "Google documents listing one's own jobs as needing no permission, but some projects refuse it "
        "without this one: the first build then warns and counts only the store's own jobs this month)",
    ),
)

REQUIRED: tuple[Permission, ...] = tuple(p for p in PERMISSIONS if p.required)
OPTIONAL: tuple[Permission, ...] = tuple(p for p in PERMISSIONS if not p.required)
REQUIRED_ROLE = REQUIRED[0].role
"""The one role that holds every required permission."""
assert all(p.role == REQUIRED_ROLE for p in REQUIRED), "the required permissions must come from one role"


def by_name(name: str) -> Permission | None:
    return next((p for p in PERMISSIONS if p.name == name), None)


_NAMED = re.compile(r"\b(bigquery\.[a-zA-Z]+\.[a-zA-Z]+)\b")


def named_in(message: str) -> str | None:
    """The permission a BigQuery accessDenied message names ("User does not have bigquery.jobs.create
    permission in project P."), if any."""
    found = _NAMED.search(message)
    return found.group(1) if found else None


def refused(message: str, project: str) -> str:
    """One line for a call BigQuery refused: the permission, the role that grants it, where to read why."""
    name = named_in(message)
    known = by_name(name) if name else None
    if known is not None:
        return (
            f"BigQuery refused the call: the account lacks {known.name} on billing project {project} "
            f"({message}). Grant it {known.role} there ({known.doc})"
        )
    needed = ", ".join(f"{p.name} ({p.role})" for p in REQUIRED)
    return (
        f"BigQuery denied access ({message}): the account needs {needed} on billing project {project}, "
        "or set [source].billing_project to a project where it has them"
    )


__all__ = ["OPTIONAL", "PERMISSIONS", "REQUIRED", "REQUIRED_ROLE", "Permission", "by_name", "named_in", "refused"]
