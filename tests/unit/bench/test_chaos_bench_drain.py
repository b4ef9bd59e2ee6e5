"""bench/chaos.py waits for the queues by progress, not by a fixed deadline (fake clock, no stack)."""

from __future__ import annotations

from collections.abc import Callable

from rankr_ghl_tools.chaos import drain
from rankr_ghl_tools.chaos.config import ChaosConfig


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def _wait(config: object, probe: Callable[[], tuple[int, int]], clock: FakeClock) -> bool:
    return bool(drain.wait_for(config, "test", probe, settle_s=1.0, clock=clock, sleep=clock.sleep))


def test_a_slow_but_steady_drain_outlives_the_stall_limit() -> None:
    config = ChaosConfig(drain_stall_s=10.0, drain_cap_s=10_000.0, verbose=False)
    clock = FakeClock()
    backlog = [2_000]

    def probe() -> tuple[int, int]:  # one message every 0.5 s: 1,000 s in all, far past 10 s
        backlog[0] = max(0, 2_000 - int(clock.now / 0.5))
        return backlog[0], 2_000 - backlog[0]

    assert _wait(config, probe, clock)
    assert 1_000.0 <= clock.now <= 1_002.0


def test_a_stalled_queue_gives_up_after_the_stall_limit() -> None:
    config = ChaosConfig(drain_stall_s=10.0, drain_cap_s=10_000.0, verbose=False)
    clock = FakeClock()
    assert not _wait(config, lambda: (5, 0), clock)
    assert 10.0 < clock.now <= 10.5


def test_a_backlog_that_goes_up_and_down_without_a_new_low_is_no_progress() -> None:
    config = ChaosConfig(drain_stall_s=10.0, drain_cap_s=10_000.0, verbose=False)
    clock = FakeClock()
    assert not _wait(config, lambda: (5 + int(clock.now * 4) % 2, 0), clock)


def test_the_hard_cap_ends_even_a_progressing_wait() -> None:
    config = ChaosConfig(drain_stall_s=10.0, drain_cap_s=30.0, verbose=False)
    clock = FakeClock()
    assert not _wait(config, lambda: (1_000, int(clock.now * 4)), clock)
    assert 30.0 < clock.now <= 30.5


def test_the_default_cap_is_sized_to_the_workload() -> None:
    full, quick = ChaosConfig(), ChaosConfig().scaled(5)
    assert drain.drain_cap(full) == 300.0 + 2.0 * 1_500
    assert drain.drain_cap(quick) == 300.0 + 2.0 * 300
    assert drain.drain_cap(ChaosConfig(drain_cap_s=5.0)) == 5.0


def test_an_empty_stack_settles_at_once() -> None:
    config = ChaosConfig(verbose=False)
    clock = FakeClock()
    assert _wait(config, lambda: (0, 0), clock)
    assert clock.now <= 1.25
