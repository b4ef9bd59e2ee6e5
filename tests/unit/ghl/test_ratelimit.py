"""RateLimiter with an injected clock: pacing, header adaptation, foreign traffic, 429, daily cap."""

from __future__ import annotations

import threading

import pytest
from rankr_ghl.ghl.errors import GHLRateLimited
from rankr_ghl.ghl.ratelimit import RateLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def limiter(clock: FakeClock, **kwargs: object) -> RateLimiter:
    params: dict = {"max_requests": 5, "interval_s": 1.0, "safety_margin": 0.0, "min_margin_s": 0.01}
    params.update(kwargs)
    return RateLimiter(clock=clock, sleep=clock.sleep, isolated=True, **params)


def send(rl: RateLimiter, resource: str = "L", **kwargs: object):
    """Acquire and immediately complete (a zero-latency request)."""
    permit = rl.acquire(resource, **kwargs)
    rl.release(permit)
    return permit


def headers(max_: int, remaining: int, interval_ms: int, daily: int = 1000, daily_left: int = 900) -> dict:
    return {
        "X-RateLimit-Max": str(max_),
        "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Interval-Milliseconds": str(interval_ms),
        "X-RateLimit-Limit-Daily": str(daily),
        "X-RateLimit-Daily-Remaining": str(daily_left),
    }


def test_defaults_are_ghl_documented_limits() -> None:
    state = RateLimiter(isolated=True).state("L")
    assert (state.max_requests, state.interval_s, state.daily_limit) == (100, 10.0, 200_000)


def test_grants_max_per_window_then_waits_for_oldest_to_expire() -> None:
    clock = FakeClock()
    rl = limiter(clock)
    for _ in range(5):
        send(rl, "L")
    assert clock.slept == []
    send(rl, "L")
    assert clock.slept == [pytest.approx(1.01)]  # interval + margin after the first send


def test_sliding_window_never_exceeds_max_in_any_interval() -> None:
    clock = FakeClock()
    rl = limiter(clock, max_requests=10, interval_s=1.0)
    grants = []
    for i in range(95):
        clock.now += 0.013 * (i % 7)  # irregular arrival
        grants.append(send(rl).granted_at)
    for i, start in enumerate(grants):
        in_window = [t for t in grants[i:] if t < start + 1.0]
        assert len(in_window) <= 10


def test_budgets_are_per_resource() -> None:
    clock = FakeClock()
    rl = limiter(clock)
    for _ in range(5):
        send(rl, "A")
    for _ in range(5):
        send(rl, "B")
    assert clock.slept == []


def test_adapts_to_rate_limit_headers() -> None:
    clock = FakeClock()
    rl = limiter(clock)
    permit = rl.acquire("L")
    rl.observe(permit, headers(max_=3, remaining=2, interval_ms=2000, daily=500, daily_left=400))
    state = rl.state("L")
    assert (state.max_requests, state.interval_s, state.daily_limit) == (3, 2.0, 500)
    assert state.daily_remaining_estimate == 400
    send(rl, "L")
    send(rl, "L")
    send(rl, "L")  # 4th within 2 s: must wait for the first to age out
    assert clock.slept == [pytest.approx(2.01)]


def test_header_names_are_case_insensitive() -> None:
    clock = FakeClock()
    rl = limiter(clock)
    permit = rl.acquire("L")
    rl.observe(permit, {k.lower(): v for k, v in headers(7, 6, 3000).items()})
    assert rl.state("L").max_requests == 7


def test_server_remaining_is_an_upper_bound_for_foreign_traffic() -> None:
    clock = FakeClock()
    rl = limiter(clock, max_requests=10)
    permit = rl.acquire("L")
    # GHL has counted 8 requests in the window, we only sent 1: 7 came from elsewhere.
    rl.observe(permit, headers(max_=10, remaining=2, interval_ms=1000))
    assert rl.state("L").in_window == 8
    send(rl, "L")
    send(rl, "L")
    assert clock.slept == []
    send(rl, "L")
    assert len(clock.slept) == 1


def test_remaining_lagging_behind_in_flight_requests_adds_nothing() -> None:
    clock = FakeClock()
    rl = limiter(clock, max_requests=10)
    first = rl.acquire("L")
    for _ in range(4):
        rl.acquire("L")  # in flight when the first response arrives
    rl.observe(first, headers(max_=10, remaining=9, interval_ms=1000))
    assert rl.state("L").in_window == 5


def test_in_flight_requests_hold_their_slot_until_completed() -> None:
    clock = FakeClock()
    rl = limiter(clock, max_requests=1, interval_s=1.0, in_flight_poll_s=0.25)
    slow = rl.acquire("L")
    clock.now += 5.0  # far beyond the window, but `slow` is still in flight: GHL may not have it yet
    waits_before = len(clock.slept)
    original_sleep = clock.sleep

    def sleep_then_complete(seconds: float) -> None:
        original_sleep(seconds)
        if len(clock.slept) - waits_before == 2:
            rl.observe(slow, {})  # its response arrives while we wait

    rl._sleep = sleep_then_complete  # type: ignore[method-assign]
    rl.acquire("L")
    # polled while in flight, then one full window from its completion
    assert clock.slept[waits_before:] == [0.25, 0.25, pytest.approx(1.01)]


def test_completion_time_not_grant_time_starts_the_window() -> None:
    clock = FakeClock()
    rl = limiter(clock, max_requests=1, interval_s=1.0)
    permit = rl.acquire("L")
    clock.now += 0.8  # latency: GHL may have counted it as late as now
    rl.observe(permit, {})
    rl.acquire("L")
    assert clock.slept == [pytest.approx(1.01)]  # from the completion, not from the grant


def test_429_blocks_for_a_window_with_jitter() -> None:
    clock = FakeClock()
    rl = limiter(clock, blocked_jitter=0.2)
    permit = rl.acquire("L")
    block = rl.on_rate_limited(permit, headers(max_=5, remaining=0, interval_ms=1000))
    assert 1.0 <= block <= 1.2
    send(rl, "L")
    assert clock.slept and clock.slept[0] == pytest.approx(block)


def test_daily_budget_exhausted_fails_fast() -> None:
    clock = FakeClock()
    rl = limiter(clock)
    permit = rl.acquire("L")
    rl.observe(permit, headers(max_=5, remaining=4, interval_ms=1000, daily=1000, daily_left=1))
    send(rl, "L")  # the last one GHL will accept today
    with pytest.raises(GHLRateLimited) as info:
        send(rl, "L")
    # Retryable: the budget comes back at GHL's daily reset, or a probe shows it did.
    assert info.value.daily and info.value.retryable
    assert info.value.retry_after_s is not None and info.value.retry_after_s > 0
    assert clock.slept == []


def test_local_daily_count_without_headers() -> None:
    clock = FakeClock()
    rl = limiter(clock, max_requests=1000, daily_limit=3, wall_clock=clock)
    for _ in range(3):
        send(rl, "L")
    with pytest.raises(GHLRateLimited):
        send(rl, "L")
    clock.now += 86_400
    send(rl, "L")  # a new day


def test_max_wait_raises_instead_of_sleeping() -> None:
    clock = FakeClock()
    rl = limiter(clock)
    for _ in range(5):
        send(rl, "L")
    with pytest.raises(GHLRateLimited) as info:
        rl.acquire("L", max_wait_s=0.5)
    assert info.value.retryable and info.value.retry_after_s == pytest.approx(1.01)
    assert clock.slept == []


def test_shared_registry_across_instances() -> None:
    a = RateLimiter()
    b = RateLimiter()
    try:
        a.acquire("shared-test-resource")  # in flight, visible to the other instance
        assert b.state("shared-test-resource").in_window == 1
    finally:
        a.forget("shared-test-resource")


def test_threads_never_exceed_budget() -> None:
    rl = RateLimiter(max_requests=20, interval_s=0.2, isolated=True, safety_margin=0.0, min_margin_s=0.0)
    grants: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(10):
            permit = rl.acquire("L")
            with lock:
                grants.append(permit.granted_at)
            rl.release(permit)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    grants.sort()
    assert len(grants) == 60
    for i, start in enumerate(grants):
        assert len([t for t in grants[i:] if t < start + 0.2]) <= 20
