"""The chaos bench's settings and progress log."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class ChaosConfig:
    leads: int = 500
    ghl_edits: int = 500
    ghl_deletes: int = 100
    task_changes: int = 200
    rankr_edits: int = 200
    batch_size: int = 10
    callers: int = 4
    seed: int = 7
    faults: bool = True
    crash_rate: float = 0.01
    time_scale: float = 0.1
    ghl_timeout_s: float = 1.0
    slow_seconds: float = 2.5
    lead_push_timeout_s: int = 30
    drain_stall_s: float = 120.0  # give up waiting once nothing moved for this long
    drain_cap_s: float | None = None  # hard cap of one wait; None: sized to the workload (drain_cap)
    log_path: str | None = None
    verbose: bool = True
    # GHL search conditions,, child-write failures, reverts, dropped note webhooks
    search_lag_s: float = 2.0
    search_lag_jitter_s: float = 1.0
    search_order: str = "ignored"
    child_leads: int = 50  # leads with tags, a note and a task, pushed while child writes fail
    late_leads: int = 50  # leads pushed while the full reconciles run
    reverts: int = 25
    quiet_note_contacts: int = 25  # notes with no webhook, on contacts nothing else touches
    busy_note_contacts: int = 25  # notes with webhooks
    reconciles_during_traffic: int = 2
    variants: dict[str, Any] | None = None  # GHL sandbox switches applied for the whole run

    def scaled(self, divisor: int) -> ChaosConfig:
        values = dict(self.__dict__)
        for name in ("leads", "ghl_edits", "ghl_deletes", "task_changes", "rankr_edits", "child_leads",
                     "late_leads", "reverts", "quiet_note_contacts", "busy_note_contacts"):  # fmt: skip
            values[name] = max(1, values[name] // divisor)
        return ChaosConfig(**values)


def log(config: ChaosConfig, message: str) -> None:
    if config.verbose:
        print(f"[chaos {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def variant_pick(config: ChaosConfig, seed: int) -> dict[str, Any]:
    """`pick_variants(seed)` becomes the run's switches. Its search order replaces the bench's; search lag
    stays on (a pick without lag gets the bench's), so the returned pick is what the run ran under."""
    from rankr_ghl_tools.ghl_sandbox import pick_variants

    pick = pick_variants(seed)
    if pick.get("search_order"):
        config.search_order = str(pick["search_order"])
    if pick.get("search_lag_s"):
        config.search_lag_s = float(pick["search_lag_s"])
        config.search_lag_jitter_s = float(pick.get("search_lag_jitter_s") or 0.0)
    pick["search_lag_s"], pick["search_lag_jitter_s"] = config.search_lag_s, config.search_lag_jitter_s
    config.variants = pick
    return pick
