"""Waiting for the chaos bench's queues: progress-based, not a fixed deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .config import ChaosConfig, log


def workload_items(config: ChaosConfig) -> int:
    return config.leads + config.ghl_edits + config.ghl_deletes + config.task_changes + config.rankr_edits


def drain_cap(config: ChaosConfig) -> float:
    """Hard cap of one wait: 300 s + 2 s per workload item (1,500 items: 3,300 s; --quick: 900 s).

    One location drains 3-5 webhook events/s under the fault mix and the workload makes ~1.2 events per
    item (lead-push creates and echoes, duplicates), so ~0.4 s per item is the expected cost; the cap
    is 5x that. It only bounds a wait that keeps making progress: a stalled one ends after
    `drain_stall_s` without progress.
    """
    return config.drain_cap_s if config.drain_cap_s is not None else 300.0 + 2.0 * workload_items(config)


def wait_for(
    config: ChaosConfig,
    label: str,
    probe: Callable[[], tuple[int, int]],
    *,
    settle_s: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> bool:
    """Wait until `probe()`'s backlog is 0 for `settle_s`. Progress-based, not a fixed deadline.

    `probe()` returns (backlog, done): what is still queued or in flight, and a counter of finished
    work. The wait goes on while there is progress (a new lowest backlog, or `done` moved) and gives up
    after `drain_stall_s` without progress or after `drain_cap(config)` in all. Returns whether it
    drained; a wait that gave up is logged and the run measures what it has (the counts show it).
    """
    cap = drain_cap(config)
    started = last_progress = last_log = clock()
    lowest: int | None = None
    last_done: int | None = None
    quiet_since: float | None = None
    backlog = 0
    while True:
        backlog, done = probe()
        now = clock()
        if backlog == 0:
            quiet_since = quiet_since if quiet_since is not None else now
            if now - quiet_since >= settle_s:
                return True
        else:
            quiet_since = None
        if lowest is None or backlog < lowest or done != last_done:
            last_progress = now
            lowest = backlog if lowest is None else min(lowest, backlog)
            last_done = done
        if now - last_progress > config.drain_stall_s or now - started > cap:
            why = "no progress" if now - last_progress > config.drain_stall_s else "hard cap"
            log(config, f"{label}: gave up after {now - started:.0f}s ({why}); backlog {backlog}")
            return False
        if now - last_log >= 30.0:
            last_log = now
            log(config, f"{label}: backlog {backlog} after {now - started:.0f}s (done {done})")
        sleep(0.25)


def stack_backlog(stack: Any) -> tuple[int, int]:
    """(queued + in flight, messages settled by the pumps) of the local runtime."""
    backlog = sum(stack.busy().values())
    settled = sum(p.messages_succeeded + p.messages_failed for p in stack.pumps)
    return backlog, settled


def wait_async_invocations(stack: Any, config: ChaosConfig) -> bool:
    return wait_for(config, "async lead push", lambda: (stack.service.async_pending, 0), settle_s=0.0)


def settle(stack: Any, config: ChaosConfig) -> bool:
    """Deliver every pending webhook (with the sandbox's retries), then drain the queues; again while
    the drain made the sandbox emit more (a second pass is cheap when there is nothing left)."""
    drained = True
    for _ in range(3):

        def webhooks() -> tuple[int, int]:
            return int(stack.ghl.admin.flush(timeout_s=5.0).get("pending", 0)), 0

        drained = wait_for(config, "webhook delivery", webhooks, settle_s=0.0) and drained
        drained = wait_for(config, "queue drain", lambda: stack_backlog(stack)) and drained
        if not stack.ghl.admin.flush(timeout_s=1.0).get("pending") and not stack.busy():
            break
    return drained
