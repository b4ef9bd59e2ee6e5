"""Reconcile on the local runtime: the deployed handler (schedule -> planner -> ReconcileQueue ->
worker) against the GHL and Rankr sandboxes and the embedded AWS; drift made without webhooks."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from rankr_ghl.flows.reconcile.jobs import STATE_CHECKPOINT, Mode, ReconcileJob, cursor_checkpoint
from rankr_ghl.rankr.records import RankrClientRecords
from reconcile_itest_helpers import ReconcileEnv, write_requests

pytestmark = pytest.mark.integration


def fire_and_drain(recon: ReconcileEnv, mode: str = "Nightly") -> Any:
    result = recon.stack.fire_schedule(f"ReconcileFunction.{mode}")
    assert result.ok, result.payload  # type: ignore[union-attr]
    plan = result.json()  # type: ignore[union-attr]
    assert plan["mode"] == ("full" if mode == "Nightly" else "incremental") and plan["enqueued"] >= 1
    recon.stack.drain(timeout=120)
    return plan


def test_dry_run_reports_the_seeded_drift_then_the_schedule_repairs_it_and_a_second_run_is_silent(
    recon: ReconcileEnv,
) -> None:
    location, account = recon.install()
    pairs = recon.seed_mirrored(location, account, 24)
    assert recon.remaining_differences(location, account) == []
    expected = recon.drift(location, account, pairs)
    assert len(recon.remaining_differences(location, account)) >= 6

    recon.ghl.admin.reset_stats()
    recon.rankr.admin.reset_stats()
    dry = recon.reconciler(location, page_size=10).run(
        ReconcileJob(location, Mode.FULL, dry_run=True), account_id=account
    )
    assert Counter(dry.report.differences) == expected
    assert write_requests(recon.ghl.admin.stats()) == {}
    assert write_requests(recon.rankr.admin.stats()) == {}
    table = recon.sync_table()
    assert table.checkpoints.load(location, STATE_CHECKPOINT) is None

    fire_and_drain(recon)  # nightly: {"mode": "full"} -> one job per location -> worker

    assert recon.remaining_differences(location, account) == []
    saved = table.checkpoints.load(location, STATE_CHECKPOINT)
    assert saved is not None and saved.value["lastMode"] == "full"

    recon.ghl.admin.reset_stats()
    recon.rankr.admin.reset_stats()
    fire_and_drain(recon)
    assert write_requests(recon.ghl.admin.stats()) == {}, "a converged location needs no GHL write"
    assert write_requests(recon.rankr.admin.stats()) == {}
    again = recon.reconciler(location).run(
        ReconcileJob(location, Mode.FULL, dry_run=True), account_id=account
    )
    assert again.report.total_differences == 0, again.report.to_dict()


def test_incremental_schedule_repairs_a_dropped_webhook(recon: ReconcileEnv) -> None:
    location, account = recon.install()
    pairs = recon.seed_mirrored(location, account, 6, tasks=False)
    recon.reconciler(location).run(
        ReconcileJob(location, Mode.FULL), account_id=account
    )  # sets the checkpoint
    recon.ghl.admin.edit(location, "contact", pairs[0][0], {"lastName": "Dropped"}, emit_webhook=False)

    fire_and_drain(recon, "Incremental")

    rankr_state = recon.rankr.admin.state(account)
    assert {c["id"]: c for c in rankr_state["contacts"]}[pairs[0][1]]["lastName"] == "Dropped"
    assert recon.remaining_differences(location, account) == []


class CrashingPort:
    def __init__(self, inner: Any, crash_on_write: int) -> None:
        self.inner = inner
        self.crash_on_write = crash_on_write
        self.writes = 0

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.inner, name)
        if name not in ("create", "update", "delete"):
            return target

        def wrapped(*args: Any, **kwargs: Any) -> Any:
            self.writes += 1
            if self.writes == self.crash_on_write:
                raise RuntimeError("injected crash between pages")
            return target(*args, **kwargs)

        return wrapped


def test_crash_mid_run_then_the_queued_job_resumes_from_the_cursor(recon: ReconcileEnv) -> None:
    location, account = recon.install()
    pairs = recon.seed_mirrored(location, account, 30, tasks=False)
    for ghl_id, _ in pairs[::3]:
        recon.ghl.admin.edit(location, "contact", ghl_id, {"firstName": "Crashy"}, emit_webhook=False)
    for n in range(3):
        recon.ghl.admin.create(
            location,
            "contact",
            {"firstName": f"Fresh{n}", "email": f"fresh{n}.{location}@example.com"},
            emit_webhook=False,
        )
    base = recon.reconciler(location)
    crashing = recon.reconciler(location, page_size=5, rankr_port=CrashingPort(base.rankr, crash_on_write=6))
    assert isinstance(base.rankr, RankrClientRecords)
    with pytest.raises(RuntimeError, match="injected crash"):
        crashing.run(ReconcileJob(location, Mode.FULL, run_id="crashed-run"), account_id=account)
    cursor = recon.sync_table().checkpoints.load(location, cursor_checkpoint(Mode.FULL))
    assert cursor is not None and cursor.value["runId"] == "crashed-run"

    # The next job (as SQS would redeliver it) goes through the deployed handler.
    sqs = recon.stack.client("sqs")
    queue_url = recon.env["RECONCILE_QUEUE_URL"]
    sqs.send_message(
        QueueUrl=queue_url,
        MessageBody=json.dumps(ReconcileJob(location, Mode.FULL, run_id="retry").to_message()),
        MessageGroupId=location,
        MessageDeduplicationId=f"retry-{location}",
    )
    recon.stack.drain(timeout=120)

    assert recon.sync_table().checkpoints.load(location, cursor_checkpoint(Mode.FULL)) is None
    assert recon.sync_table().checkpoints.load(location, STATE_CHECKPOINT).value["lastRunId"] == "crashed-run"
    assert recon.remaining_differences(location, account) == []
    live = [c for c in recon.rankr.admin.state(account)["contacts"] if not c.get("deletedAt")]
    emails = Counter(c.get("email") for c in live)
    assert len(live) == 33 and max(emails.values()) == 1, "nothing lost, nothing duplicated"
