"""Exponential backoff for transient errors, shared by the network sources (BigQuery, ClickPy)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass


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
