"""The control API's reconcile ops: queue a run of one location for ReconcileFunction's worker
(`reconcile.start`) and read how far it got (`reconcile.status`).

The job goes on ReconcileQueue like the planner's, so it shares the location's message group (one run
at a time, its GHL rate budget spent by one worker). A run's progress is its cursor checkpoint; its
report is the result checkpoint the worker saves when it finishes (a dry run has its own).
"""

from __future__ import annotations

import uuid
from typing import Any

from rankr_ghl.flows.control.contract import ReconcileStartRequest, ReconcileStatusRequest
from rankr_ghl.flows.control.operator_contract import OpsReconcileStartRequest, OpsReconcileStatusRequest
from rankr_ghl.flows.reconcile.jobs import (
    DRY_RUN_RESULT_CHECKPOINT,
    RESULT_CHECKPOINT,
    STATE_CHECKPOINT,
    Mode,
    ReconcileJob,
    cursor_checkpoint,
)
from rankr_ghl.flows.reconcile.planner import JobQueue
from rankr_ghl.sync.ports import CheckpointStore, utcnow

REQUESTED_CHECKPOINT = "reconcile:requested"


def start_reconcile(
    queue: JobQueue, checkpoints: CheckpointStore, request: ReconcileStartRequest | OpsReconcileStartRequest
) -> dict[str, Any]:
    job = ReconcileJob(
        request.location_id, Mode(request.mode), request.dry_run, run_id=f"ctl-{uuid.uuid4().hex[:16]}"
    )
    requested = {
        "runId": job.run_id,
        "mode": job.mode.value,
        "dryRun": job.dry_run,
        "requestedAt": utcnow().isoformat(),
    }
    queue.send(job)
    checkpoints.save(request.location_id, REQUESTED_CHECKPOINT, requested)
    return {**requested, "queued": True}


def _value(checkpoints: CheckpointStore, location_id: str, name: str) -> dict[str, Any] | None:
    found = checkpoints.load(location_id, name)
    return dict(found.value) if found is not None else None


def _progress(cursor: dict[str, Any], mode: Mode) -> dict[str, Any]:
    counters = cursor.get("report") or {}
    return {
        "runId": cursor.get("runId"),
        "mode": mode.value,
        "phase": cursor.get("phase"),
        "startedAt": cursor.get("startedAt"),
        "scanned": counters.get("scanned") or {},
        "differences": counters.get("differences") or {},
    }


def last_reconcile(checkpoints: CheckpointStore, location_id: str) -> dict[str, Any]:
    """The last completed run (any origin: schedule, CLI or control API) and the worker's report."""
    state = _value(checkpoints, location_id, STATE_CHECKPOINT) or {}
    result = _value(checkpoints, location_id, RESULT_CHECKPOINT)
    return {
        "lastSuccessAt": state.get("lastSuccessAt"),
        "lastMode": state.get("lastMode"),
        "lastRunId": state.get("lastRunId"),
        "lastFullAt": state.get("lastFullAt"),
        "result": _summary(result) if result else None,
    }


def _summary(result: dict[str, Any]) -> dict[str, Any]:
    keys = ("runId", "mode", "dryRun", "complete", "finishedAt", "totalDifferences", "totalRepaired")
    return {**{k: result.get(k) for k in keys}, "failures": sum((result.get("failures") or {}).values())}


def reconcile_status(
    checkpoints: CheckpointStore, request: ReconcileStatusRequest | OpsReconcileStatusRequest
) -> dict[str, Any]:
    location = request.location_id
    requested = _value(checkpoints, location, REQUESTED_CHECKPOINT)
    running = [
        _progress(cursor, mode)
        for mode in Mode
        if (cursor := _value(checkpoints, location, cursor_checkpoint(mode))) is not None
    ]
    result = _value(checkpoints, location, RESULT_CHECKPOINT)
    dry = _value(checkpoints, location, DRY_RUN_RESULT_CHECKPOINT)
    run_id = request.run_id or (requested or {}).get("runId")
    state = "none"
    report: dict[str, Any] | None = None
    if run_id is not None:
        finished = next((r for r in (result, dry) if r and r.get("runId") == run_id), None)
        if finished is not None:
            state, report = "complete", finished
        elif any(r["runId"] == run_id for r in running):
            state = "running"
        elif requested is not None and requested.get("runId") == run_id:
            state = "queued"
        else:
            state = "unknown"
    return {
        "runId": run_id,
        "state": state,
        "report": report,
        "requested": requested,
        "running": running,
        "last": last_reconcile(checkpoints, location),
        "lastDryRun": _summary(dry) if dry else None,
    }
