"""The shared budget reserves the next slice while the senders spend the rest of the one in hand."""

from __future__ import annotations

import threading
from collections.abc import Callable

from rankr_ghl.ghl.budget import SharedBudget
from rankr_ghl.ghl.budget_record import Limits, MemoryBudgetStore, Priority, Snapshot

WINDOW = Limits(100, 1.0)
WAIT_S = 5.0  # bounds every wait on another thread, so a broken budget fails instead of hanging


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def budget(
    store: object, clock: Clock, run_prefetch: Callable[[Callable[[], None]], object] | None
) -> SharedBudget:
    return SharedBudget(
        store,  # type: ignore[arg-type]
        priority=Priority.STANDARD,
        slice_share=0.2,  # slices of 20
        initial_slice_share=1.0,  # from the first one (slices that grow: test_ratelimit_shared.py)
        prefetch_share=0.5,  # the next one is reserved when 10 are left
        run_prefetch=run_prefetch,
        wall_clock=clock,
    )


def spend(process: SharedBudget, count: int) -> None:
    for _ in range(count):
        assert process.take("L", WINDOW) == 0.0
        process.completed("L")


def record_count(store: MemoryBudgetStore) -> int:
    return sum(e.count for e in store.load("L").entries)


def test_the_next_slice_is_reserved_while_half_the_slice_is_left_and_the_rest_stays_booked() -> None:
    clock, store = Clock(), MemoryBudgetStore()
    process = budget(store, clock, run_prefetch=lambda job: job())
    spend(process, 9)
    assert process.coordination_calls == 1  # the first slice
    spend(process, 1)  # 10 left: the next slice is reserved now, not when none is left
    assert process.coordination_calls == 2
    # The record holds the 10 sent, the 10 still in hand and the new 20, nothing given back early.
    assert record_count(store) == 40
    spend(process, 19)  # the rest of the first slice and 9 of the second, without a reservation
    assert process.coordination_calls == 2
    spend(process, 1)  # 10 of the second left: the third is reserved
    assert process.coordination_calls == 3
    assert record_count(store) == 60  # 30 sent, 10 in hand, 20 new


def test_prefetched_slices_never_take_more_than_the_window() -> None:
    clock, store = Clock(), MemoryBudgetStore()
    processes = [budget(store, clock, run_prefetch=lambda job: job()) for _ in range(3)]
    sent = 0
    for _ in range(200):  # all at one instant: nothing of the window frees meanwhile
        for process in processes:
            if process.take("L", WINDOW) == 0.0:
                process.completed("L")
                sent += 1
    assert sent == 100
    assert record_count(store) <= 100


class GatedStore(MemoryBudgetStore):
    """Writes after the first wait until the test opens the gate."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.waiting = threading.Event()
        self.writes = 0

    def compare_and_set(self, resource_id: str, expected_version: int, new: Snapshot) -> Snapshot | None:
        self.writes += 1
        if self.writes > 1:
            self.waiting.set()
            assert self.gate.wait(WAIT_S)
        return super().compare_and_set(resource_id, expected_version, new)


def test_a_sender_that_runs_out_waits_for_the_prefetch_instead_of_reserving_again() -> None:
    clock, store = Clock(), GatedStore()
    process = budget(store, clock, run_prefetch=None)  # the budget's own prefetch thread
    spend(process, 10)  # the prefetch starts, and its write waits at the gate
    assert store.waiting.wait(WAIT_S)
    spend(process, 10)  # the rest of the slice in hand, meanwhile
    taken: list[float] = []
    sender = threading.Thread(target=lambda: taken.append(process.take("L", WINDOW)))
    sender.start()
    sender.join(0.2)
    assert sender.is_alive() and store.writes == 2  # waiting for the prefetch, not a write of its own
    store.gate.set()
    sender.join(WAIT_S)
    assert taken == [0.0]
    assert store.writes == 2


class FailingSecondWrite(MemoryBudgetStore):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def compare_and_set(self, resource_id: str, expected_version: int, new: Snapshot) -> Snapshot | None:
        self.writes += 1
        if self.writes == 2:
            raise ConnectionError("coordinator unreachable")
        return super().compare_and_set(resource_id, expected_version, new)


def test_a_failed_prefetch_leaves_the_next_reservation_to_the_senders_without_falling_back() -> None:
    clock, store = Clock(), FailingSecondWrite()
    process = budget(store, clock, run_prefetch=lambda job: job())
    spend(process, 20)  # the prefetch at 10 left failed (and is not retried); the slice is still spent
    assert store.writes == 2 and not process.degraded
    spend(process, 1)  # none left: the sender reserves, and the shared record takes it
    assert store.writes == 3 and not process.degraded
    assert process.fallbacks == 0


def test_flush_waits_for_a_prefetch_in_flight_and_reports_after_it() -> None:
    clock, store = Clock(), GatedStore()
    process = budget(store, clock, run_prefetch=None)
    spend(process, 10)
    assert store.waiting.wait(WAIT_S)
    flusher = threading.Thread(target=process.flush, args=("L",))
    flusher.start()
    flusher.join(0.2)
    assert flusher.is_alive()  # one reservation at a time: its report would be overwritten
    store.gate.set()
    flusher.join(WAIT_S)
    assert not flusher.is_alive()
    assert store.writes == 3
    # The flush gave back everything not sent: the 10 completed stay, closed.
    entries = store.load("L").entries
    assert sum(e.count for e in entries) == 10 and not any(e.holder for e in entries)
