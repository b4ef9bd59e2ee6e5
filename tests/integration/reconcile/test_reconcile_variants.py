"""Reconcile against the GHL sandbox's adversarial variants (docs/ghl-variants.md): an ignored or
shuffled sort, search lag, every cursor shape, an unstable task search with a loose record shape.
Drift made without webhooks converges, and only the seeded deletes are deleted."""

from __future__ import annotations

import time
from typing import Any

import pytest
from rankr_ghl.flows.reconcile.jobs import Mode, ReconcileJob
from reconcile_itest_helpers import ReconcileEnv

pytestmark = pytest.mark.integration

VARIANTS: list[dict[str, Any]] = [
    {"search_order": "ignored", "search_lag_s": 1.0, "search_lag_jitter_s": 0.5},
    {"search_order": "shuffled", "search_cursor": "none"},
    {
        "search_order": "documented",
        "search_cursor": "top_level",
        "task_search": {"order": "unstable", "body_key": "description", "contact_key": "contactIds"},
    },
]


@pytest.mark.parametrize("switches", VARIANTS, ids=["ignored-lag", "shuffled-nocursor", "tasks-unstable"])
def test_a_full_run_converges_and_deletes_only_what_was_deleted(
    recon: ReconcileEnv, switches: dict[str, Any]
) -> None:
    location, account = recon.install()
    pairs = recon.seed_mirrored(location, account, 24)
    recon.ghl.admin.variants(location, **switches)
    recon.drift(location, account, pairs)
    time.sleep(float(switches.get("search_lag_s", 0)) + float(switches.get("search_lag_jitter_s", 0)))

    # Pages of 5 and a window of 10: the search goes past the window with searchAfter.
    reconciler = recon.reconciler(location, page_size=5, search_page_window=10)
    report = reconciler.run(ReconcileJob(location, Mode.FULL), account_id=account).report

    assert not report.failures, report.to_dict()
    assert recon.remaining_differences(location, account) == []
    deleted = {c["id"] for c in recon.rankr.admin.state(account)["contacts"] if c.get("deletedAt")}
    assert deleted == {pairs[2][1], pairs[3][1]}, "only the seeded deletes"
    assert report.repaired["contact.deleted_in_ghl"] == 1
