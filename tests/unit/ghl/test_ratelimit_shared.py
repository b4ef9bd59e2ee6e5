"""The budget shared across processes (ghl.budget) and the limiter's daily recovery and 429 waits."""

from __future__ import annotations

import pytest
from rankr_ghl.ghl.budget import SharedBudget
from rankr_ghl.ghl.budget_record import (
    Entry,
    Limits,
    MemoryBudgetStore,
    Priority,
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
        "margin_share": 0.0, "min_margin_s": 0.02, "max_lease_s": 1.0, "horizon_s": 0.0,
        "latency_s": 0.0, "limits": WINDOW,
    }  # fmt: skip
    values.update(kw)
    return SliceRequest(**values)


def budget(store: object, clock: Clock, priority: Priority = Priority.STANDARD, **kw: object) -> SharedBudget:
    # The next slice is reserved in the taking thread, after its request: deterministic on a fake clock.
    kw.setdefault("run_prefetch", lambda job: job())
    # Full slices from the first: the growing slices have tests of their own below.
    kw.setdefault("initial_slice_share", 1.0)
    return SharedBudget(store, priority=priority, wall_clock=clock, **kw)  # type: ignore[arg-type]


def sends_in_any_window(sends: list[float], interval: float) -> int:
    ordered = sorted(sends)
    return max(len([t for t in ordered[i:] if t < start + interval]) for i, start in enumerate(ordered))


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
    snapshot = Snapshot(1, (Entry("", 100, 99.5),), WINDOW)
    _, grant = allocate(snapshot, request(), WINDOW)
    assert grant.count == 0
    assert grant.retry_at == pytest.approx(99.5 + 1.0 + 0.02)
    _, ahead = allocate(snapshot, request(horizon_s=0.2), WINDOW)
    assert ahead.count == 0 and ahead.retry_at == pytest.approx(99.5 + 1.02 - 0.2)  # to book it


def test_room_freeing_within_the_horizon_is_booked_ahead() -> None:
    snapshot = Snapshot(1, (Entry("", 100, 99.0),), WINDOW)  # frees at 100.02
    new, grant = allocate(snapshot, request(horizon_s=0.1), WINDOW)
    assert grant.count == 10 and grant.pieces[0].start == pytest.approx(100.02)
    assert new.entries[-1].start == pytest.approx(100.02)


def test_a_slice_comes_in_pieces_as_the_room_frees() -> None:
    # Room frees in the shape it was used: 5 at 100.02, 5 more at 100.05.
    entries = (Entry("", 5, 99.0), Entry("", 5, 99.03), Entry("", 90, 99.9))
    _, grant = allocate(Snapshot(1, entries, WINDOW), request(horizon_s=0.1), WINDOW)
    assert [(round(p.start, 2), p.count) for p in grant.pieces] == [(100.02, 5), (100.05, 5)]


def test_entries_expire_one_interval_after_their_last_completion() -> None:
    snapshot = Snapshot(1, (Entry("", 100, 98.9),), WINDOW)
    new, grant = allocate(snapshot, request(), WINDOW)
    assert grant.count == 10
    assert [e.holder for e in new.entries] == ["a"]


def test_a_report_replaces_the_holders_provisional_slice() -> None:
    # Holder "a" took 50 but 5 completed, the last at 99.0: the unused 45 are free again at once.
    snapshot = Snapshot(1, (Entry("a", 50, 100.4), Entry("b", 50, 100.4)), WINDOW)
    report = (Entry("", 5, 99.0, 0.0, 0),)
    new, grant = allocate(
        snapshot, request("a", want=40, priority=Priority.INTERACTIVE, report=report), WINDOW
    )
    assert grant.count == 40
    assert sorted((e.holder, e.count) for e in new.entries) == [("", 5), ("a", 40), ("b", 50)]


def test_priority_rule_keeps_a_reserve_while_lead_push_is_active() -> None:
    lead_active = Snapshot(1, (Entry("x", 70, 100.0, 0.0, Priority.INTERACTIVE.rank),), WINDOW)
    _, background = allocate(lead_active, request(priority=Priority.BACKGROUND), WINDOW)
    _, standard = allocate(lead_active, request(want=30, priority=Priority.STANDARD), WINDOW)
    _, interactive = allocate(lead_active, request(want=30, priority=Priority.INTERACTIVE), WINDOW)
    assert background.count == 0  # 30 left is reconcile's reserve
    assert standard.count == 20  # webhooks leave 10
    assert interactive.count == 30  # lead push may take the last request
    # Without a higher priority in the window, reconcile may use all of it.
    alone = Snapshot(1, (Entry("x", 70, 100.0, 0.0, Priority.BACKGROUND.rank),), WINDOW)
    _, background = allocate(alone, request(want=30, priority=Priority.BACKGROUND), WINDOW)
    assert background.count == 30


def test_learned_window_is_shared_through_the_record() -> None:
    learned = Limits(40, 2.0)
    snapshot, _ = allocate(Snapshot(), request(limits=learned), WINDOW)
    assert snapshot.limits == learned
    _, grant = allocate(snapshot, request("b", want=60, limits=None, priority=Priority.INTERACTIVE), WINDOW)
    assert grant.count == 30 and grant.limits == learned


def test_record_size_stays_bounded() -> None:
    entries = tuple(Entry("", 1, 99.9 + i / 1000) for i in range(90))
    new, _ = allocate(Snapshot(1, entries, Limits(1000, 1.0)), request(limits=None), WINDOW)
    assert len(new.entries) <= 49
    assert sum(e.count for e in new.entries) == 90 + 10


# ------------------------------------------------------------------------------ process side
def run_processes(processes: list[SharedBudget], clock: Clock, total: int) -> list[float]:
    sends: list[float] = []
    while len(sends) < total:
        for process in processes:
            if process.take("L", WINDOW) == 0.0:
                process.completed("L")
                sends.append(clock.now)
        clock.now += 0.005
    return sends


def test_processes_share_one_window_with_amortised_coordination() -> None:
    clock = Clock()
    store = MemoryBudgetStore()
    processes = [budget(store, clock, Priority.INTERACTIVE) for _ in range(4)]
    sends = run_processes(processes, clock, 500)
    assert sends_in_any_window(sends, 1.0) <= 100
    # Near the floor of 4 windows for 500: each window costs its interval plus the margin, and a
    # few requests of a fragment freed late wait for the next window.
    assert sends[-1] - sends[0] < 4 * 1.3
    # Amortised: lock-step processes always find the record changed, so a slice costs about
    # two calls, and reporting while the window is full one more now and then.
    assert store.calls / len(sends) <= 0.25


def test_priorities_share_the_window_and_lead_push_keeps_going() -> None:
    clock = Clock()
    store = MemoryBudgetStore()
    lead = budget(store, clock, Priority.INTERACTIVE)
    background = [budget(store, clock, Priority.BACKGROUND) for _ in range(3)]
    lead_sends: list[float] = []
    all_sends: list[float] = []
    while len(all_sends) < 600:
        for process in [lead, *background]:
            if process.take("L", WINDOW) == 0.0:
                process.completed("L")
                all_sends.append(clock.now)
                if process is lead:
                    lead_sends.append(clock.now)
        clock.now += 0.005
    assert sends_in_any_window(all_sends, 1.0) <= 100
    assert len(lead_sends) >= 0.25 * len(all_sends)  # reconcile never takes lead push's share


def test_flush_gives_the_unused_rest_back() -> None:
    clock = Clock()
    store = MemoryBudgetStore()
    first, second, third = (budget(store, clock, Priority.INTERACTIVE) for _ in range(3))
    for _ in range(5):
        assert first.take("L", WINDOW) == 0.0
        first.completed("L")
    while second.take("L", WINDOW) == 0.0:
        second.completed("L")
    assert third.take("L", WINDOW) > 0  # the window is full: 80 plus first's slice of 20
    first.flush("L")  # first used 5 of its 20
    clock.now += 1.0  # third comes back when told
    taken = 0
    while third.take("L", WINDOW) == 0.0 and taken < 100:
        third.completed("L")
        taken += 1
    assert taken == 15


def test_a_waiting_process_reads_an_old_record_before_waiting_again() -> None:
    clock = Clock()
    store = MemoryBudgetStore()
    lead, filler, waiting = (budget(store, clock, Priority.INTERACTIVE) for _ in range(3))
    assert lead.take("L", WINDOW) == 0.0  # a slice of 20, one used
    lead.completed("L")
    while filler.take("L", WINDOW) == 0.0:
        filler.completed("L")
    wait = waiting.take("L", WINDOW)  # the window is full in the record it learns
    assert wait > 0
    lead.flush("L")  # 19 of lead's slice go back; the waiting process has not seen it
    clock.now += wait
    calls = store.calls
    assert waiting.take("L", WINDOW) == 0.0  # one read, then a slice from the returned room
    assert store.calls - calls == 2


def test_window_frees_after_the_interval() -> None:
    clock = Clock()
    shared = budget(store := MemoryBudgetStore(), clock, Priority.INTERACTIVE)
    while shared.take("L", WINDOW) == 0.0:
        shared.completed("L")
    full_at = clock.now
    while (wait := shared.take("L", WINDOW)) > 0:
        clock.now += wait
    assert clock.now - full_at == pytest.approx(1.0 * 1.01 + 0.02)  # interval + margin
    assert store.calls <= 8


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
    assert clock.slept and sum(clock.slept) == pytest.approx(1.03, abs=0.05)


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


def test_a_wait_on_the_documented_window_is_short_until_the_real_one_is_learned() -> None:
    # Nobody has had a response yet: the record shows no window, so a full record's wait is
    # computed on the documented 100 per 10 s, which GHL's window may not be.
    clock = Clock()
    store = MemoryBudgetStore()
    others = [budget(store, clock, Priority.INTERACTIVE) for _ in range(5)]
    for other in others:
        for _ in range(20):
            assert other.take("L", None) == 0.0
            other.completed("L")
        other.flush("L")
    waiting = budget(store, clock, Priority.INTERACTIVE)
    wait = waiting.take("L", None)
    assert 0.0 < wait <= 0.25
    # One of the others learns the real window (100 per 1 s) and shares it through the record.
    clock.now += 1.5
    assert others[0].take("L", WINDOW) == 0.0
    clock.now += 0.01
    assert waiting.take("L", None) == 0.0  # reads the record again instead of waiting 10 s


def test_a_full_record_merges_entries_near_in_time_not_the_oldest() -> None:
    # 30 requests completed at 99.0 and 60 more, one every 5 ms, from 99.3: merging them to stay
    # within the record's bound must not hold the early ones until the late ones end.
    early = tuple(Entry("", 1, 99.0) for _ in range(30))
    late = tuple(Entry("", 1, 99.3 + i / 200) for i in range(60))
    new, grant = allocate(Snapshot(1, early + late, WINDOW), request(want=20, now=99.9), WINDOW)
    assert len(new.entries) <= 49
    assert grant.count == 10  # 90 in the window
    # The early ones leave the window at 100.02, the late ones from 100.32.
    assert sum(e.count for e in new.entries if not e.holder and e.end + 1.02 > 100.03) == 60


def test_a_slow_reservation_leases_its_slice_from_the_attempt_that_won() -> None:
    # Each store call takes 0.3 s and the first write loses a race: the slice won at the second
    # attempt must still have its lease (0.5 s) ahead of it, not one counted from the first ask.
    clock = Clock()
    inner = MemoryBudgetStore()
    other = budget(inner, clock, Priority.INTERACTIVE)

    class SlowRacingStore:
        raced = False

        def load(self, resource_id: str) -> Snapshot:
            clock.now += 0.3
            return inner.load(resource_id)

        def compare_and_set(self, resource_id: str, expected_version: int, new: Snapshot) -> Snapshot | None:
            clock.now += 0.3
            if not self.raced:
                self.raced = True
                assert other.take(resource_id, WINDOW) == 0.0  # another process writes meanwhile
            return inner.compare_and_set(resource_id, expected_version, new)

    # Reserving only when the slice is spent, so the count of reservations below is exact.
    slow = budget(SlowRacingStore(), clock, Priority.INTERACTIVE, prefetch_share=0.0)
    assert slow.take("L", WINDOW) == 0.0
    slow.completed("L")
    clock.now += 0.1  # 0.7 s after the first ask, 0.1 s after the slice was won
    calls = inner.calls
    for _ in range(19):
        assert slow.take("L", WINDOW) == 0.0
        slow.completed("L")
    assert inner.calls == calls  # the rest of the slice, without another reservation


def held_slices(store: MemoryBudgetStore, holder: str) -> list[int]:
    return [entry.count for entry in store.load("L").entries if entry.holder == holder]


def test_a_process_first_slice_is_small_and_a_spent_slice_is_followed_by_a_full_one() -> None:
    clock, store = Clock(), MemoryBudgetStore()
    # Reserving only when a slice is spent, so each reservation's slice is the one the record holds.
    process = budget(store, clock, initial_slice_share=0.1, prefetch_share=0.0)
    reserved: list[int] = []
    for _ in range(2 + 20 + 20):
        calls = process.coordination_calls
        assert process.take("L", WINDOW) == 0.0
        process.completed("L")
        if process.coordination_calls > calls:
            reserved += held_slices(store, process.holder)
        clock.now += 0.001
    assert reserved == [2, 20, 20]  # one call a slice: 3 for 42 requests


def test_a_slice_that_lapses_unspent_halves_the_next() -> None:
    clock, store = Clock(), MemoryBudgetStore()
    process = budget(store, clock, initial_slice_share=0.1)
    for _ in range(2 + 1):  # up to a full slice of 20, one of it spent
        assert process.take("L", WINDOW) == 0.0
        process.completed("L")
    assert held_slices(store, process.holder) == [20]
    clock.now += 5.0  # the lease ends with 19 unspent: an idle spell
    assert process.take("L", WINDOW) == 0.0
    assert held_slices(store, process.holder) == [10]


def test_short_lived_processes_of_one_request_each_do_not_book_the_window_for_others() -> None:
    """Cold containers that send one request and never report again (on GHL's documented window,
    100 per 10 s): with full first slices the sixth waited seconds behind 100 requests booked and
    five sent."""
    clock, store = Clock(), MemoryBudgetStore()
    window = Limits(100, 10.0)
    for index in range(12):
        priority = (Priority.INTERACTIVE, Priority.STANDARD, Priority.BACKGROUND)[index % 3]
        process = budget(store, clock, priority, initial_slice_share=0.1)
        assert process.take("L", window) == 0.0, f"process {index} waited"
        process.completed("L")
        clock.now += 0.5
    full = budget(store, clock, Priority.STANDARD, initial_slice_share=1.0)
    assert full.take("L", window) == 0.0
    assert held_slices(store, full.holder) == [20]
