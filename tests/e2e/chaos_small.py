"""The small chaos run both chaos e2e tests share: every fault of bench/chaos.py, a dozen leads."""

from __future__ import annotations

from typing import Any

SMALL = {
    "leads": 12,
    "ghl_edits": 12,
    "ghl_deletes": 3,
    "task_changes": 6,
    "rankr_edits": 6,
    "child_leads": 3,
    "late_leads": 4,
    "reverts": 2,
    "quiet_note_contacts": 2,
    "busy_note_contacts": 2,
    "batch_size": 4,
}


def small_chaos_config(chaos: Any, seed: int) -> Any:
    """`chaos`: the loaded bench module."""
    return chaos.ChaosConfig(**SMALL, seed=seed, verbose=False)
