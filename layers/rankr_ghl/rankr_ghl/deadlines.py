"""The deadline of the work in progress on this thread (a Lambda's remaining time, less a reserve).

The webhook worker sets it for each record; the GHL client reads it to cap a call's timeout and its
rate-limiter wait, so no single call can outlive the invocation. Nothing set means no deadline.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_deadline: ContextVar[float | None] = ContextVar("rankr_ghl_deadline", default=None)


def remaining_s() -> float | None:
    """Seconds left before the current deadline (negative once passed), None without a deadline."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


@contextmanager
def deadline_in(seconds: float) -> Iterator[None]:
    """Run the block with a deadline `seconds` from now (a tighter enclosing deadline still wins)."""
    new = time.monotonic() + seconds
    current = _deadline.get()
    token = _deadline.set(new if current is None else min(current, new))
    try:
        yield
    finally:
        _deadline.reset(token)


def cap(limit_s: float | None) -> float | None:
    """`limit_s` capped by the time left (never below zero); None when neither bounds it."""
    left = remaining_s()
    if left is None:
        return limit_s
    left = max(0.0, left)
    return left if limit_s is None else min(limit_s, left)
