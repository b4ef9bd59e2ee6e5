"""The reconcile worker keeps the report of each queued run it finishes, which `reconcile.status` and
`connection.get` show: a dry run in its own record, so it never hides the last repair."""

from __future__ import annotations

from control_fakes import JobQueue
from fakes.connections import FakeConnectionLookup
from fakes.reconcile_world import ACCOUNT, LOCATION, World
from rankr_ghl.flows.reconcile.jobs import (
    DRY_RUN_RESULT_CHECKPOINT,
    RESULT_CHECKPOINT,
    Mode,
    ReconcileJob,
)
from rankr_ghl.flows.reconcile.worker import ReconcileWorker


def test_the_worker_saves_the_report_of_a_finished_run_and_of_a_dry_run_apart() -> None:
    world = World()
    g_id, _ = world.mirrored_pair(1)
    world.ghl.edit_contact(g_id, firstName="Changed")
    connections = FakeConnectionLookup()
    connections.add(LOCATION, account=ACCOUNT)
    worker = ReconcileWorker(world.reconciler, connections, JobQueue())
    worker.handle(ReconcileJob(LOCATION, Mode.FULL, dry_run=True, run_id="dry1"))
    dry = world.checkpoints.load(LOCATION, DRY_RUN_RESULT_CHECKPOINT)
    assert dry is not None and dry.value["runId"] == "dry1" and dry.value["totalDifferences"] == 1
    assert world.checkpoints.load(LOCATION, RESULT_CHECKPOINT) is None
    worker.handle(ReconcileJob(LOCATION, Mode.FULL, run_id="real1"))
    real = world.checkpoints.load(LOCATION, RESULT_CHECKPOINT)
    assert real is not None and real.value["runId"] == "real1" and real.value["totalRepaired"] == 1
    assert "finishedAt" in real.value
