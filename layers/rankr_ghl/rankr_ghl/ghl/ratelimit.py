"""Client-side rate budget per GHL resource (location, or company for agency calls).

GHL allows 100 requests per 10 s and 200,000 per day per app per resource, and reports the live
figures in ``X-RateLimit-*`` headers. The limiter paces requests so that a 429 should never happen:

- A sliding-window log of our own requests. GHL counts a request when it arrives, somewhere
  between our grant and our receipt of the response, so a request counts as "in flight" until it
  completes and is then logged at its completion time. A request is granted only while in-flight
  plus logged requests within the last ``interval`` (+ a small margin) stay below ``max``. That
  holds for any window GHL uses (sliding, or fixed windows anchored anywhere) whatever the
  latency, because every request GHL saw in a window is either in flight or logged after the
  window started.
- The server's ``X-RateLimit-Remaining`` is an upper bound: if GHL has counted more requests than
  we have sent (other containers of the same app hitting the same location), the difference is
  added to the log as "foreign" sends so our pacing accounts for them.
- Max, interval and daily limits adapt to the headers. A 429 whose headers show budget left waits
  only until our log says the window frees, plus jitter; otherwise it blocks one full window plus
  jitter.
- A known-exhausted daily budget fails fast (retryable, with the time to wait) instead of waiting
  for hours. The count starts again at the daily reset time (``daily_reset_offset_s`` after
  midnight UTC, configurable because GHL does not document it), and one probe request every
  ``daily_probe_s`` lets a fresh ``X-RateLimit-Daily-Remaining`` header revive it whenever GHL's
  reset really happens.
- With a ``SharedBudget`` (ghl.budget), every request also takes its place in the budget shared
  by all the app's processes; the headers' foreign sends are then already accounted for there.

Budgets live in a module-level registry keyed by resource id, so every client instance (and
thread) of a process shares them. Tests pass ``isolated=True`` plus a fake clock and sleep.
"""

from __future__ import annotations

import bisect
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from rankr_ghl.ghl.budget import SharedBudget
from rankr_ghl.ghl.budget_record import Limits
from rankr_ghl.ghl.errors import GHLRateLimited

DEFAULT_MAX_REQUESTS = 100
DEFAULT_INTERVAL_S = 10.0
DEFAULT_DAILY_LIMIT = 200_000
DAY_S = 86_400.0
DEFAULT_DAILY_PROBE_S = 300.0

HEADER_MAX = "x-ratelimit-max"
HEADER_REMAINING = "x-ratelimit-remaining"
HEADER_INTERVAL_MS = "x-ratelimit-interval-milliseconds"
HEADER_DAILY_LIMIT = "x-ratelimit-limit-daily"
HEADER_DAILY_REMAINING = "x-ratelimit-daily-remaining"


@dataclass(frozen=True)
class Permit:
    """Proof that a request was granted; hand it back with the response headers."""

    resource_id: str
    seq: int
    granted_at: float


@dataclass(frozen=True)
class BudgetState:
    """Read-only view of one resource's budget (for tests and diagnostics)."""

    max_requests: int
    interval_s: float
    in_window: int
    daily_limit: int
    daily_remaining_estimate: int | None
    blocked_for_s: float


def _header_int(headers: Mapping[str, str], name: str) -> int | None:
    raw = headers.get(name)
    if raw is None:
        return None
    try:
        return int(float(raw))
    except ValueError:
        return None


class _Budget:
    def __init__(self, max_requests: int, interval_s: float, daily_limit: int, day: int) -> None:
        self.lock = threading.Lock()
        self.max_requests = max_requests
        self.interval_s = interval_s
        self.daily_limit = daily_limit
        self.sends: list[float] = []  # sorted completion times within the window, ours and foreign
        self.in_flight: set[int] = set()  # seqs granted, not completed
        self.seq = 0  # number of grants so far
        self.blocked_until = 0.0
        self.learned = False  # max and interval come from GHL's headers
        self.day = day
        self.day_count = 0
        self.daily_remaining: int | None = None  # as of grant number daily_seen_seq
        self.daily_seen_seq = -1
        self.daily_probe_at = 0.0  # wall clock: when a spent daily budget may send one probe

    def horizon(self, margin_s: float) -> float:
        return self.interval_s + margin_s

    def prune(self, now: float, margin_s: float, day: int) -> None:
        cutoff = now - self.horizon(margin_s)
        drop = bisect.bisect_right(self.sends, cutoff)
        if drop:
            del self.sends[:drop]
        if day != self.day:
            self.day = day
            self.day_count = 0
            self.daily_remaining = None
            self.daily_probe_at = 0.0

    def used(self) -> int:
        return len(self.sends) + len(self.in_flight)

    def complete(self, seq: int, now: float) -> None:
        if seq in self.in_flight:
            self.in_flight.discard(seq)
            bisect.insort(self.sends, now)

    def daily_left(self) -> int:
        if self.daily_remaining is None:
            return self.daily_limit - self.day_count
        # GHL's own figure wins over our count: its reset time may not be the one configured.
        return self.daily_remaining - (self.seq - self.daily_seen_seq)


class RateLimiter:
    """Per-resource request budget shared by the threads (and client instances) of a process."""

    _registry: dict[str, _Budget] = {}
    _registry_lock = threading.Lock()

    def __init__(
        self,
        *,
        max_requests: int = DEFAULT_MAX_REQUESTS,
        interval_s: float = DEFAULT_INTERVAL_S,
        daily_limit: int = DEFAULT_DAILY_LIMIT,
        safety_margin: float = 0.01,
        min_margin_s: float = 0.005,
        in_flight_poll_s: float = 0.002,
        blocked_jitter: float = 0.2,
        daily_reset_offset_s: float = 0.0,
        daily_probe_s: float = DEFAULT_DAILY_PROBE_S,
        shared: SharedBudget | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
        isolated: bool = False,
    ) -> None:
        """``safety_margin`` (fraction of the interval) + ``min_margin_s`` pad the window against
        clock-rate differences. Every granted Permit must be completed with ``observe``,
        ``on_rate_limited`` or ``release``. ``daily_reset_offset_s``: when GHL's daily budget
        starts again, in seconds after midnight UTC. ``shared``: the budget every process of the
        app shares (None: this process's budget only)."""
        self._defaults = (max_requests, interval_s, daily_limit)
        self._daily_reset_offset_s = daily_reset_offset_s
        self._daily_probe_s = daily_probe_s
        self.shared = shared
        self._wall_clock = wall_clock
        self._safety_margin = safety_margin
        self._min_margin_s = min_margin_s
        self._blocked_jitter = blocked_jitter
        self._in_flight_poll_s = in_flight_poll_s
        self._clock = clock
        self._sleep = sleep
        if isolated:
            self._budgets: dict[str, _Budget] = {}
            self._budgets_lock = threading.Lock()
        else:
            self._budgets = RateLimiter._registry
            self._budgets_lock = RateLimiter._registry_lock

    def _margin(self, budget: _Budget) -> float:
        return budget.interval_s * self._safety_margin + self._min_margin_s

    def _day(self) -> int:
        return int((self._wall_clock() - self._daily_reset_offset_s) // DAY_S)

    def _next_daily_reset_s(self) -> float:
        return (self._day() + 1) * DAY_S + self._daily_reset_offset_s - self._wall_clock()

    def _budget(self, resource_id: str) -> _Budget:
        budget = self._budgets.get(resource_id)
        if budget is None:
            with self._budgets_lock:
                budget = self._budgets.get(resource_id)
                if budget is None:
                    budget = _Budget(*self._defaults, day=self._day())
                    self._budgets[resource_id] = budget
        return budget

    def acquire(self, resource_id: str, max_wait_s: float | None = None) -> Permit:
        """Block until a request for ``resource_id`` may be sent, and record it as sent.

        Raises GHLRateLimited (retryable, with ``retry_after_s``) when the daily budget is known
        to be spent, or when the wait would exceed ``max_wait_s`` (so a Lambda can stop before
        its own timeout).
        """
        budget = self._budget(resource_id)
        started = self._clock()
        shared_taken = False
        try:
            while True:
                with budget.lock:
                    now = self._clock()
                    margin = self._margin(budget)
                    budget.prune(now, margin, self._day())
                    self._check_daily(resource_id, budget)
                    learned = Limits(budget.max_requests, budget.interval_s) if budget.learned else None
                    wait = self._local_wait(budget, now, margin)
                if wait <= 0 and self.shared is not None and not shared_taken:
                    wait = self.shared.take(resource_id, learned)
                    shared_taken = wait <= 0
                if wait <= 0:
                    with budget.lock:
                        if self._local_wait(budget, self._clock(), margin) <= 0:
                            budget.seq += 1
                            budget.day_count += 1
                            budget.in_flight.add(budget.seq)
                            shared_taken = False  # now owned by the permit
                            return Permit(resource_id, budget.seq, now)
                    if shared_taken and self.shared is not None:
                        # Never hold a shared request while waiting: it must be sent at once, or
                        # its slice could expire from the shared record before it reaches GHL.
                        self.shared.give_back(resource_id)
                        shared_taken = False
                    continue
                wait = max(wait, 0.0005)
                if max_wait_s is not None and (now - started) + wait > max_wait_s:
                    raise GHLRateLimited(
                        f"rate budget of resource {resource_id} would need a {wait:.2f}s wait",
                        retry_after_s=wait,
                    )
                self._sleep(wait)
        finally:
            if shared_taken and self.shared is not None:
                self.shared.give_back(resource_id)

    def _check_daily(self, resource_id: str, budget: _Budget) -> None:
        """Raise while the daily budget is known to be spent, except for one probe request now
        and then: only a response can tell that GHL's day started again."""
        if budget.daily_left() > 0:
            return
        wall = self._wall_clock()
        if budget.daily_probe_at and wall >= budget.daily_probe_at:
            budget.daily_probe_at = wall + self._daily_probe_s
            return
        if not budget.daily_probe_at:  # just found spent: the first probe is one period away
            budget.daily_probe_at = wall + self._daily_probe_s
        retry_after = min(budget.daily_probe_at - wall, self._next_daily_reset_s())
        raise GHLRateLimited(
            f"daily request budget of resource {resource_id} is spent",
            daily=True,
            retry_after_s=max(retry_after, 0.0),
        )

    def _local_wait(self, budget: _Budget, now: float, margin: float) -> float:
        """Seconds until this process's own log allows one more request (<= 0: now)."""
        if now < budget.blocked_until:
            return budget.blocked_until - now
        if budget.used() < budget.max_requests:
            return 0.0
        over = budget.used() - budget.max_requests  # logged entries that must expire
        if over < len(budget.sends):
            return max(budget.sends[over] + budget.horizon(margin) - now, 0.0005)
        return self._in_flight_poll_s  # everything counted is still in flight: wait for a completion

    def release(self, permit: Permit) -> None:
        """The request ended without a response (timeout, dropped connection): count it as
        completed now, since GHL may have received it at any point until now."""
        budget = self._budget(permit.resource_id)
        with budget.lock:
            budget.complete(permit.seq, self._clock())
        if self.shared is not None:
            self.shared.completed(permit.resource_id)

    def observe(self, permit: Permit, headers: Mapping[str, str]) -> None:
        """Complete ``permit`` and adapt the budget to its response's ``X-RateLimit-*`` headers."""
        budget = self._budget(permit.resource_id)
        # httpx.Headers is case-insensitive; plain dicts from tests are normalised here.
        lowered = {k.lower(): v for k, v in headers.items()}
        max_requests = _header_int(lowered, HEADER_MAX)
        remaining = _header_int(lowered, HEADER_REMAINING)
        interval_ms = _header_int(lowered, HEADER_INTERVAL_MS)
        daily_limit = _header_int(lowered, HEADER_DAILY_LIMIT)
        daily_remaining = _header_int(lowered, HEADER_DAILY_REMAINING)
        if self.shared is not None:
            self.shared.completed(permit.resource_id)
        with budget.lock:
            now = self._clock()
            budget.complete(permit.seq, now)
            if max_requests is not None and max_requests > 0:
                budget.max_requests = max_requests
                budget.learned = True
            if interval_ms is not None and interval_ms > 0:
                budget.interval_s = interval_ms / 1000.0
            if daily_limit is not None and daily_limit > 0:
                budget.daily_limit = daily_limit
            if daily_remaining is not None and permit.seq > budget.daily_seen_seq:
                budget.daily_remaining = daily_remaining
                budget.daily_seen_seq = permit.seq
            budget.prune(now, self._margin(budget), self._day())
            if remaining is not None and (self.shared is None or self.shared.degraded):
                # GHL can only have counted our logged sends plus other processes' sends: the
                # excess over our log is foreign traffic, which occupies the window too.
                server_used = budget.max_requests - remaining
                foreign = server_used - budget.used()
                if foreign > 0:
                    for _ in range(foreign):
                        bisect.insort(budget.sends, now)

    def on_rate_limited(self, permit: Permit, headers: Mapping[str, str]) -> float:
        """GHL answered 429: block the resource, and return the block.

        If the headers show requests left in the window, the refusal was not about our window
        being full (a burst from elsewhere, a reset we have not seen): wait only until our log
        says the window frees, plus jitter. Otherwise block one full window plus jitter."""
        self.observe(permit, headers)
        remaining = _header_int({k.lower(): v for k, v in headers.items()}, HEADER_REMAINING)
        budget = self._budget(permit.resource_id)
        with budget.lock:
            now = self._clock()
            jitter = random.uniform(0.0, self._blocked_jitter)
            if remaining is not None and remaining > 0:
                margin = self._margin(budget)
                reset = budget.sends[0] + budget.horizon(margin) - now if budget.sends else 0.0
                block = min(max(reset, 0.0), budget.interval_s) + budget.interval_s * jitter * 0.5
            else:
                block = budget.interval_s * (1.0 + jitter)
            budget.blocked_until = max(budget.blocked_until, now + block)
            return budget.blocked_until - now

    def state(self, resource_id: str) -> BudgetState:
        budget = self._budget(resource_id)
        with budget.lock:
            now = self._clock()
            budget.prune(now, self._margin(budget), self._day())
            estimate = (
                None
                if budget.daily_remaining is None
                else budget.daily_remaining - (budget.seq - budget.daily_seen_seq)
            )
            return BudgetState(
                max_requests=budget.max_requests,
                interval_s=budget.interval_s,
                in_window=budget.used(),
                daily_limit=budget.daily_limit,
                daily_remaining_estimate=estimate,
                blocked_for_s=max(0.0, budget.blocked_until - now),
            )

    def forget(self, resource_id: str) -> None:
        """Drop a resource's budget (e.g. after uninstall, or between tests)."""
        with self._budgets_lock:
            self._budgets.pop(resource_id, None)
