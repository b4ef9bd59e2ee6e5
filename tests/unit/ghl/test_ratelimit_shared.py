"""The budget shared across processes (ghl.budget) and the limiter's daily recovery and 429 waits."""

from __future__ import annotations

import pytest
from rankr_ghl.ghl.budget import (
    Entry,
    Limits,
    MemoryBudgetStore,
    Priority,
    SharedBudget,
    SliceRequest,
    Snapshot,
    allocate,
)
from rankr_ghl.ghl.errors import GHLRateLimited
from rankr_ghl.ghl.ratelimit import RateLimiter

WINDOW = Limits(100, 1.0)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class BrokenStore:
    def load(self, resource_id: str) -> Snapshot:
        raise ConnectionError("coordinator unreachable")

    def compare_and_set(self, resource_id: str, expected_version: int, new: Snapshot) -> Snapshot | None:
        raise ConnectionError("coordinator unreachable")


def request(
    holder: str = "a", want: int = 10, priority: Priority = Priority.STANDARD, **kw: object
) -> SliceRequest:
    values: dict = {
        "holder": holder, "want": want, "priority": priority, "now": 100.0, "lease_share": 0.5,
        "margin_share": 0.0, "min_margin_s": 0.02, "max_lease_s": 1.0, "limits": WINDOW,
    }  # fmt: skip
    values.update(kw)
    return SliceRequest(**values)


def budget(store: object, clock: Clock, priority: Priority = Priority.STANDARD, **kw: object) -> SharedBudget:
    return SharedBudget(store, priority=priority, wall_clock=clock, **kw)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------- allocation
def test_slices_never_exceed_the_window_together() -> None:
    snapshot = Snapshot()
    granted = 0
    for holder in "abcdefghijklmn":
        snapshot, grant = allocate(snapshot, request(holder, priority=Priority.INTERACTIVE), WINDOW)
        granted += grant.count
    assert granted == 100
    assert sum(e.count for e in snapshot.entries) == 100


def test_a_full_window_says_when_to_come_back() -> None:
    snapshot = Snapshot(1, (Entry("x", 100, 99.5),), WINDOW)
    _, grant = allocate(snapshot, request(), WINDOW)
    assert grant.count == 0
    assert grant.retry_at == pytest.approx(99.5 + 1.0 + 0.02)


def test_entries_expire_one_interval_after_their_last_send() -> None:
    snapshot = Snapshot(1, (Entry("x", 100, 98.9),), WINDOW)
    new, grant = allocate(snapshot, request(), WINDOW)
    assert grant.count == 10
    assert [e.holder for e in new.entries] == ["a"]


def test_reporting_the_used_part_returns_the_rest() -> None:
    # Holder "a" took 50 but used 5, the last at 99.0: the unused 45 are free again at once.
    snapshot = Snapshot(1, (Entry("a", 50, 100.4), Entry("b", 50, 100.4)), WINDOW)
    new, grant = allocate(
        snapshot, request("a", want=40, priority=Priority.INTERACTIVE, used=5, last_sent=99.0), WINDOW
    )
    assert grant.count == 40
    assert sorted((e.holder, e.count, e.end) for e in new.entries) == [
        ("a", 5, 99.0), ("a", 40, 100.5), ("b", 50, 100.4),
    ]  # fmt: skip


def test_priority_rule_keeps_a_reserve_for_lead_push() -> None:
    snapshot = Snapshot(1, (Entry("x", 70, 100.0),), WINDOW)
    _, background = allocate(snapshot, request(priority=Priority.BACKGROUND), WINDOW)
    _, standard = allocate(snapshot, request(want=30, priority=Priority.STANDARD), WINDOW)
    _, interactive = allocate(snapshot, request(want=30, priority=Priority.INTERACTIVE), WINDOW)
    assert background.count == 0  # 30 left is reconcile's reserve
    assert standard.count == 20  # webhooks leave 10
    assert interactive.count == 30  # lead push may take the last request


def test_learned_window_is_shared_through_the_record() -> None:
    learned = Limits(40, 2.0)
    snapshot, _ = allocate(Snapshot(), request(limits=learned), WINDOW)
    assert snapshot.limits == learned
    _, grant = allocate(snapshot, request("b", want=60, limits=None, priority=Priority.INTERACTIVE), WINDOW)
    assert grant.count == 30 and grant.limits == learned


def test_record_size_stays_bounded() -> None:
    entries = tuple(Entry(f"h{i}", 1, 99.9 + i / 1000) for i in range(90))
    new, _ = allocate(Snapshot(1, entries, Limits(1000, 1.0)), request(limits=None), WINDOW)
    assert len(new.entries) <= 65
    assert sum(e.count for e in new.entries) == 90 + 10


# ------------------------------------------------------------------------------ process side
def test_processes_share_one_window_with_amortised_coordination() -> None:
    clock = Clock()
    store = MemoryBudgetStore()
    processes = [budget(store, clock, Priority.INTERACTIVE) for _ in range(4)]
    sends: list[float] = []
    while len(sends) < 500:
        for process in processes:
            if process.take("L", WINDOW) == 0.0:
                process.completed("L")
                sends.append(clock.now)
        clock.now += 0.005
    for i, start in enumerate(sends):  # never more than the window in any interval
        assert len([t for t in sends[i:] if t < start + 1.0]) <= 100
    assert sends[-1] - sends[0] < 4 * 1.3  # and close to the floor of 4 windows for 500
    # Amortised: lock-step processes always find the record changed, so a slice costs about
    # two calls, and waiting for a full window one more now and then.
    assert store.calls / len(sends) <= 0.25


def test_window_frees_after_the_interval() -> None:
    clock = Clock()
    shared = budget(MemoryBudgetStore(), clock, Priority.INTERACTIVE)
    while shared.take("L", WINDOW) == 0.0:
        shared.completed("L")
    full_at = clock.now
    while (wait := shared.take("L", WINDOW)) > 0:
        assert wait <= 1.0  # asks again at least every max_lease_s
        clock.now += wait
    assert clock.now - full_at == pytest.approx(1.0 * 1.02 + 0.1)  # interval + margin


def test_unreachable_store_degrades_to_a_conservative_local_share() -> None:
    clock = Clock()
    shared = budget(BrokenStore(), clock, Priority.INTERACTIVE, fallback_share=0.25, fallback_for_s=10.0)
    taken = 0
    while shared.take("L", WINDOW) == 0.0:
        shared.completed("L")
        taken += 1
    assert 20 <= taken <= 25  # a quarter of the window, in slices
    assert shared.degraded and shared.fallbacks == 1
    clock.now += 1.2
    assert shared.take("L", WINDOW) == 0.0  # the sync goes on


def test_store_is_tried_again_after_the_fallback_period() -> None:
    clock = Clock()
    store = MemoryBudgetStore()
    shared = budget(store, clock, fallback_for_s=5.0)
    shared.store = BrokenStore()  # type: ignore[assignment]
    assert shared.take("L", WINDOW) == 0.0
    shared.store = store
    clock.now += 6.0
    assert shared.take("L", WINDOW) == 0.0
    assert not shared.degraded and store.calls >= 1


def test_limiter_takes_from_the_shared_budget() -> None:
    clock = Clock()
    store = MemoryBudgetStore()
    other = budget(store, clock, Priority.INTERACTIVE)
    while other.take("L", WINDOW) == 0.0:  # another process holds the whole window
        other.completed("L")
    rl = RateLimiter(
        max_requests=100, interval_s=1.0, clock=clock, wall_clock=clock, sleep=clock.sleep,
        isolated=True, shared=budget(store, clock),
    )  # fmt: skip
    with pytest.raises(GHLRateLimited):
        rl.acquire("L", max_wait_s=0.5)
    rl.release(rl.acquire("L"))
    assert clock.slept and sum(clock.slept) == pytest.approx(1.12, abs=0.05)


# ------------------------------------------------------------------------ limiter: 429, daily
def headers(remaining: int, daily_left: int = 900) -> dict[str, str]:
    return {
        "X-RateLimit-Max": "5", "X-RateLimit-Remaining": str(remaining),
        "X-RateLimit-Interval-Milliseconds": "10000", "X-RateLimit-Limit-Daily": "1000",
        "X-RateLimit-Daily-Remaining": str(daily_left),
    }  # fmt: skip


def limiter(clock: Clock, **kw: object) -> RateLimiter:
    return RateLimiter(clock=clock, wall_clock=clock, sleep=clock.sleep, isolated=True, **kw)  # type: ignore[arg-type]


def test_429_with_budget_left_waits_only_until_the_window_frees() -> None:
    clock = Clock()
    rl = limiter(clock, blocked_jitter=0.2)
    rl.observe(rl.acquire("L"), {})
    clock.now += 4.0
    block = rl.on_rate_limited(rl.acquire("L"), headers(remaining=3))
    # The oldest send leaves the 10 s window in about 6 s: not a full window again.
    assert 6.0 <= block <= 6.0 + 0.1 * 10 + 0.2


def test_429_without_budget_left_blocks_a_full_window() -> None:
    clock = Clock()
    rl = limiter(clock, blocked_jitter=0.2)
    block = rl.on_rate_limited(rl.acquire("L"), headers(remaining=0))
    assert 10.0 <= block <= 12.0


def test_spent_daily_budget_recovers_at_the_configured_reset_time() -> None:
    clock = Clock()
    clock.now = 86_400 * 20_000 + 5 * 3600.0  # 05:00 UTC
    rl = limiter(clock, daily_reset_offset_s=6 * 3600, daily_probe_s=10 * 86_400)
    rl.observe(rl.acquire("L"), headers(remaining=4, daily_left=0))
    with pytest.raises(GHLRateLimited) as info:
        rl.acquire("L")
    assert info.value.daily and info.value.retryable
    assert info.value.retry_after_s == pytest.approx(3600.0)  # the reset at 06:00
    clock.now += 3600.0
    rl.release(rl.acquire("L"))  # a warm container recovers without a cold start


def test_spent_daily_budget_probes_and_recovers_when_ghl_reset_elsewhen() -> None:
    clock = Clock()
    rl = limiter(clock, daily_probe_s=300.0)
    rl.observe(rl.acquire("L"), headers(remaining=4, daily_left=0))
    with pytest.raises(GHLRateLimited):
        rl.acquire("L")
    clock.now += 120.0
    with pytest.raises(GHLRateLimited) as info:
        rl.acquire("L")
    assert info.value.retry_after_s == pytest.approx(180.0)
    clock.now += 180.0
    probe = rl.acquire("L")  # one probe request
    rl.observe(probe, headers(remaining=4, daily_left=999))  # GHL's day started again
    rl.release(rl.acquire("L"))
    rl.release(rl.acquire("L"))


def test_lead_push_keeps_a_spent_daily_budget_retryable() -> None:
    from rankr_ghl.flows.lead_push.service import _failure_from_ghl

    failure = _failure_from_ghl(GHLRateLimited("daily request budget is spent", daily=True, retry_after_s=60))
    assert failure.retryable  # the lead is retried after the reset, not dropped
