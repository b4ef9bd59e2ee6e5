"""A much smaller bench/chaos.py run: the same faults and flows, a dozen leads and changes.

Every fault of the bench is on (GHL 429/5xx/slow/422-but-created, webhook duplicates/drops/reordering,
Rankr 5xx, the lead-push crash hook), on its own LocalStack. The assertion is the bench's target: no
lost record, no duplicate, no orphan mapping, no field mismatch, no lost edit, nothing in a DLQ.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

BENCH = Path(__file__).resolve().parents[2] / "bench" / "chaos.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("rankr_ghl_chaos_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve annotations through sys.modules
    spec.loader.exec_module(module)
    return module


def test_small_chaos_run_converges() -> None:
    chaos = _bench()
    config = chaos.ChaosConfig(
        leads=12,
        ghl_edits=12,
        ghl_deletes=3,
        task_changes=6,
        rankr_edits=6,
        batch_size=4,
        seed=11,
        verbose=False,
    )
    result = chaos.run_chaos(config)
    counts = {k: result[k] for k in chaos.ZERO_TARGETS}
    assert counts == dict.fromkeys(counts, 0), result
    assert result["ghl_calls"] > 0 and result["leads"] == 12
