"""The running invocation's deadline, for code far below the handler (the token vault).

A Lambda container runs one invocation at a time, so one holder per container is enough: each
invocation service calls `invocation_deadline.start(context)` first, and the vault asks
`remaining_s()` before refreshing and while retrying a token write. Outside an invocation (tests,
tools) the remaining time is unknown (None) and the vault falls back to its own budget.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol


class _HasRemainingTime(Protocol):
    def get_remaining_time_in_millis(self) -> int: ...


class InvocationDeadline:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._ends_at: float | None = None

    def start(self, context: _HasRemainingTime | None) -> None:
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        if not callable(remaining):
            self._ends_at = None
            return
        try:
            self._ends_at = self._clock() + float(remaining()) / 1000.0
        except (TypeError, ValueError):  # a stand-in context without a usable deadline
            self._ends_at = None

    def remaining_s(self) -> float | None:
        if self._ends_at is None:
            return None
        return self._ends_at - self._clock()


invocation_deadline = InvocationDeadline()
