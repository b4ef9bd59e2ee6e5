"""A much smaller bench/chaos.py run: the same faults and flows, a dozen leads and changes.

Every fault of the bench is on (GHL 429/5xx/slow/422-but-created, search lag and an ignored search
order, child-write failures, webhook duplicates/drops/reordering and notes without webhooks, Rankr 5xx,
the lead-push crash hook, full reconciles during traffic, lead reverts), on its own LocalStack. The
assertion is the bench's target: no lost record, no duplicate, no orphan mapping, no field mismatch, no
lost edit, nothing in a DLQ, and every safety count (false deletes, twins, lost reverts and children,
note and task mismatches) at zero too.
"""

from __future__ import annotations

import pytest
from chaos_small import small_chaos_config
from rankr_ghl_tools.bench_loader import load_bench

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def test_small_chaos_run_converges() -> None:
    chaos = load_bench("chaos")
    config = small_chaos_config(chaos, 11)
    result = chaos.run_chaos(config)
    counts = {k: result[k] for k in chaos.ALL_ZERO_TARGETS}
    assert counts == dict.fromkeys(counts, 0), result
    assert result["ghl_calls"] > 0 and result["leads"] == 12 + 3 + 4
    assert result["search_lag_s"] > 0 and result["search_order"] == "ignored"
    assert result["reconciles_during_traffic"] == 2 and result["reverts"] == 2
