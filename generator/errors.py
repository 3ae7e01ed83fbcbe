"""The error hierarchy. The CLI turns any GeneratorError into one line and a non-zero exit."""

from __future__ import annotations


class GeneratorError(Exception):
    """Base for every error the user can act on."""

    exit_code = 1
    """The CLI's exit status for this error (documented in the README)."""


class ConfigError(GeneratorError):
    """The config file is missing, unreadable, or holds a bad value."""


class SourceError(GeneratorError):
    """A data source could not be read or queried."""


class PermissionDenied(SourceError):
    """BigQuery refused a call for a missing IAM permission (named when its message names one)."""

    def __init__(self, message: str, *, permission: str | None = None) -> None:
        super().__init__(message)
        self.permission = permission


class StoreError(GeneratorError):
    """The aggregate store is unreadable, corrupt or locked."""


class RenderError(GeneratorError):
    """A page could not be rendered or the site could not be written."""


class CostLimitExceeded(GeneratorError):
    """A query's guaranteed ceiling does not fit the per-query cap, or what is left of the run's or month's budget."""

    def __init__(
        self,
        message: str,
        *,
        ceiling_bytes: int = 0,
        cap_bytes: int = 0,
        refusal: object = None,
        expected_bytes: int = 0,
    ) -> None:
        super().__init__(message)
        self.ceiling_bytes = ceiling_bytes
        self.cap_bytes = cap_bytes
        self.refusal = refusal
        """The generator.budget.Refusal: which budget, and the exact value it would need."""
        self.expected_bytes = expected_bytes


class NewestDayDoesNotFit(CostLimitExceeded):
    """Not even the newest job of a plan fits the budget: nothing can be fetched until a setting changes."""

    exit_code = 3
