"""Deadlines: the running invocation's end, and the deadline of the unit of work on this thread.

- The invocation deadline: a Lambda container runs one invocation at a time, so one holder per
  container is enough. Each invocation service calls `invocation.start(context)` first; the token
  vault asks `invocation.remaining_s()` before refreshing and while retrying a token write.
- The unit deadline (`deadline_in`, a context variable): the webhook worker gives each record a budget
  from the remaining time. `remaining_s()` and `cap()` read it; the GHL client uses them to cap a
  call's timeout and its rate-limiter wait, so no single call outlives its unit. It is per thread on
  purpose: the local runtime serves several functions' invocations from threads of one process, and
  one function's end must not bound another's calls.
- The limiter-wait bound (`limiter_wait_at_most`, a context variable): how long a unit may wait for
  the rate budget in place. The webhook worker keeps it short, so a location whose budget is spent
  returns its records to the queue until the budget resets instead of holding the worker (and the
  other locations' records behind them in the batch) for the wait.

Outside an invocation (tests, tools) and outside `deadline_in`, nothing bounds the work (None).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
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


invocation = InvocationDeadline()

_unit_deadline: ContextVar[float | None] = ContextVar("rankr_ghl_deadline", default=None)
_limiter_wait: ContextVar[float | None] = ContextVar("rankr_ghl_limiter_wait", default=None)


def remaining_s() -> float | None:
    """Seconds left before the unit's deadline (negative once passed), None without one."""
    unit = _unit_deadline.get()
    return None if unit is None else unit - time.monotonic()


@contextmanager
def _tightened(bound: ContextVar[float | None], value: float) -> Iterator[None]:
    """Run the block with `bound` at `value`, or at its enclosing value where that is tighter."""
    current = bound.get()
    token = bound.set(value if current is None else min(current, value))
    try:
        yield
    finally:
        bound.reset(token)


@contextmanager
def deadline_in(seconds: float) -> Iterator[None]:
    """Run the block with a deadline `seconds` from now (a tighter enclosing deadline still wins)."""
    with _tightened(_unit_deadline, time.monotonic() + seconds):
        yield


def cap(limit_s: float | None) -> float | None:
    """`limit_s` capped by the time left (never below zero); None when neither bounds it."""
    left = remaining_s()
    if left is None:
        return limit_s
    left = max(0.0, left)
    return left if limit_s is None else min(limit_s, left)


@contextmanager
def limiter_wait_at_most(seconds: float) -> Iterator[None]:
    """Run the block with the rate-limiter wait of each call bounded by `seconds` (a tighter
    enclosing bound still wins)."""
    with _tightened(_limiter_wait, seconds):
        yield


def limiter_wait_cap(limit_s: float | None) -> float | None:
    """How long a call may wait for the rate budget: `limit_s` capped by the unit's deadline and by
    the limiter-wait bound; None when nothing bounds it."""
    capped = cap(limit_s)
    bound = _limiter_wait.get()
    if bound is None:
        return capped
    return bound if capped is None else min(capped, bound)
