"""Exponential backoff for transient errors, shared by the network sources (BigQuery, ClickPy)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter for transient errors, bounded in attempts and total time.

    Injectable so tests never sleep: pass `sleep=lambda s: None`.
    """

    initial_seconds: float = 1.0
    multiplier: float = 2.0
    max_seconds: float = 32.0
    deadline_seconds: float = 300.0
    """Total time one query may spend retrying."""
    max_attempts: int = 8
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    jitter: Callable[[], float] = random.random

    def delay(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (1-based): half to all of the backoff."""
        base = min(self.max_seconds, self.initial_seconds * self.multiplier ** (attempt - 1))
        return base * (0.5 + 0.5 * self.jitter())


def retrying(
    fn: Callable[[], T],
    policy: RetryPolicy,
    deadline: float,
    *,
    transient: Callable[[Exception], bool],
    give_up: Callable[[Exception, int], Exception],
) -> T:
    """Call `fn` until it returns; retry transient errors with `policy`'s backoff until its attempts
    or `deadline` (on policy.clock) run out, then raise give_up(last error, attempts)."""
    attempt = 0
    while True:
        try:
            return fn()
        except Exception as exc:
            if not transient(exc):
                raise
            attempt += 1
            delay = policy.delay(attempt)
            if attempt >= policy.max_attempts or policy.clock() + delay > deadline:
                raise give_up(exc, attempt) from exc
            policy.sleep(delay)
