"""One reconcile job, phase by phase, and the `Reconciler` that runs it.

Modes (docs/reconcile.md): `incremental` (what changed since the last completed run), `full` (every
contact on both sides, deletes proven and budgeted), `notes` (every mapped contact's notes). Repairs
go through the sync core (direction, conflict rules, echo ledger), every repair is audited, a dry run
writes nothing. The cursor is saved after every page; a run short of time stops, saves it and returns
a continuation job; the checkpoint (the incremental window's start and the last success) only moves
after a run completed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Any

from rankr_ghl.flows.reconcile.full_pass import FullPass
from rankr_ghl.flows.reconcile.incremental_pass import IncrementalPass
from rankr_ghl.flows.reconcile.jobs import (
    STATE_CHECKPOINT,
    Mode,
    OutOfTime,
    ReconcileJob,
    ReconcileOutcome,
    cursor_checkpoint,
)
from rankr_ghl.flows.reconcile.record_values import iso, parse_iso
from rankr_ghl.flows.reconcile.services import ReconcileServices
from rankr_ghl.observability import logger
from rankr_ghl.sync.types import Entity


class Phase(StrEnum):
    FULL_CONTACTS = "full_contacts"
    FULL_UNSEEN = "full_unseen"
    RANKR_UNMAPPED = "rankr_unmapped"
    GHL_CHANGED = "ghl_changed"
    RANKR_CHANGED = "rankr_changed"
    TASKS = "tasks"
    TASKS_BY_CONTACT = "tasks_by_contact"  # full mode, only when the task search named no contact
    NOTES_ALL = "notes_all"


# Cursor keys that outlive a phase: the pass's start, its delete budget and its seen bitmap.
RUN_STATE_KEYS = (
    "runId",
    "startedAt",
    "mappedContacts",
    "deletesUsed",
    "seen",
    "mappingFingerprint",
    "searchDone",
    "unattributedTasks",
)


class Reconciler(ReconcileServices):
    """Per-location reconcile. One instance per container; `run` is one job."""

    def run(
        self,
        job: ReconcileJob,
        *,
        account_id: str,
        remaining_ms: Callable[[], int] | None = None,
        progress: Callable[[str, int], None] | None = None,
    ) -> ReconcileOutcome:
        return ReconcileRun(self, job, account_id, remaining_ms, progress).execute()


class ReconcileRun(FullPass, IncrementalPass):
    def execute(self) -> ReconcileOutcome:
        now = self.clock()
        saved = self.checkpoints.load(self.location_id, STATE_CHECKPOINT)
        last: dict[str, Any] = dict(saved.value) if saved else {}
        since = parse_iso(last.get("incrementalSince"))
        if self.mode is Mode.INCREMENTAL and since is None:
            self.mode = Mode.FULL  # never reconciled: an incremental window has no start
            self.report.mode = Mode.FULL
        cursor_name = cursor_checkpoint(self.mode)
        phases = self.phases()
        resumed = None if self.dry_run else self.checkpoints.load(self.location_id, cursor_name)
        if resumed is not None:
            self.state = dict(resumed.value)
            self.report.run_id = str(self.state.get("runId", self.job.run_id))
            self.report.restore_counters(self.state.get("report") or {})
            logger.info(
                "reconcile resumes from cursor",
                extra={
                    "location_id": self.location_id,
                    "mode": self.mode.value,
                    "phase": self.state.get("phase"),
                },
            )
        else:
            self.state = {
                "runId": self.job.run_id,
                "startedAt": iso(now),
                "phase": phases[0].value,
                "mappedContacts": int(last.get("mappedContacts") or 0),
            }
        if since is not None:
            self.since = since - self.settings.overlap
        try:
            start = [phase.value for phase in phases].index(self.state.get("phase", phases[0].value))
        except ValueError:
            start = 0
        try:
            for phase in phases[start:]:
                if self.state.get("phase") != phase.value:
                    self.state = {key: value for key, value in self.state.items() if key in RUN_STATE_KEYS}
                    self.state["phase"] = phase.value
                    self.save_cursor()
                self.run_phase(phase)
        except OutOfTime:
            self.report.continued = True
            logger.info(
                "reconcile stops before the timeout; continuation queued",
                extra={"location_id": self.location_id, "phase": self.state.get("phase")},
            )
            return ReconcileOutcome(self.report, self.job.next())
        self.report.complete = True
        if not self.dry_run:
            self.checkpoints.save(self.location_id, STATE_CHECKPOINT, self.completed_checkpoint(last, now))
            self.checkpoints.delete(self.location_id, cursor_name)
        logger.info(
            "reconcile finished",
            extra={
                "location_id": self.location_id,
                "mode": self.mode.value,
                "dry_run": self.dry_run,
                "differences": self.report.total_differences,
                "repaired": self.report.total_repaired,
            },
        )
        return ReconcileOutcome(self.report)

    def completed_checkpoint(self, last: dict[str, Any], now: datetime) -> dict[str, Any]:
        value = dict(last)
        if self.mode is Mode.NOTES:  # compares no contacts: the incremental window stays where it is
            value["lastNotesAt"] = iso(self.clock())
            return value
        started = parse_iso(self.state.get("startedAt")) or now
        value.update(
            {
                "incrementalSince": iso(started),
                "lastSuccessAt": iso(self.clock()),
                "lastMode": self.mode.value,
                "lastRunId": self.report.run_id,
            }
        )
        if self.mode is Mode.FULL:
            value["lastFullAt"] = iso(self.clock())
            value["mappedContacts"] = int(self.state.get("mappedContacts") or 0)
        return value

    def phases(self) -> list[Phase]:
        if self.mode is Mode.NOTES:
            return [Phase.NOTES_ALL]
        tasks = [Phase.TASKS] if self.field_mapping.for_entity(Entity.TASK).enabled else []
        if self.mode is Mode.FULL:
            by_contact = [Phase.TASKS_BY_CONTACT] if tasks else []
            return [Phase.FULL_CONTACTS, Phase.FULL_UNSEEN, Phase.RANKR_UNMAPPED, *tasks, *by_contact]
        return [Phase.GHL_CHANGED, Phase.RANKR_CHANGED, *tasks]

    def run_phase(self, phase: Phase) -> None:
        if phase is Phase.FULL_CONTACTS:
            self.phase_full_contacts()
        elif phase is Phase.FULL_UNSEEN:
            self.phase_full_unseen()
        elif phase is Phase.RANKR_UNMAPPED:
            self.phase_rankr_unmapped()
        elif phase is Phase.GHL_CHANGED:
            self.phase_ghl_changed()
        elif phase is Phase.RANKR_CHANGED:
            self.phase_rankr_changed()
        elif phase is Phase.TASKS:
            self.phase_tasks()
        elif phase is Phase.TASKS_BY_CONTACT:
            self.phase_tasks_by_contact()
        else:
            self.phase_notes_all()
