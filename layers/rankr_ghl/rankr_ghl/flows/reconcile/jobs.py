"""Reconcile jobs (the queue's message), the run report, the settings and the outcome of one job."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any

from rankr_ghl.sync.types import Entity

FLOW = "reconcile"
# The lead claims read for one contact (lead tag, e-mail, phone): before a create, or a pair's repair.
MAX_CLAIM_IDENTITIES = 3
STATE_CHECKPOINT = "reconcile:state"
# The report of the last queued job that finished (a dry run keeps its own, so it never hides a repair).
RESULT_CHECKPOINT = "reconcile:result"
DRY_RUN_RESULT_CHECKPOINT = "reconcile:result:dry-run"


def cursor_checkpoint(mode: Mode) -> str:
    return f"reconcile:cursor:{mode.value}"


class Mode(StrEnum):
    INCREMENTAL = "incremental"
    FULL = "full"
    NOTES = "notes"  # every mapped contact's notes (a slower cadence: lost note events on quiet contacts)


class DiffKind(StrEnum):
    MISSING_IN_RANKR = "missing_in_rankr"  # a GHL record never mapped and without a Rankr twin
    MISSING_IN_GHL = "missing_in_ghl"  # a Rankr record never mapped and without a GHL twin
    UNMAPPED_MATCH = "unmapped_match"  # both sides have it (same lead id / e-mail / phone), not linked
    DRIFTED = "drifted"  # a mapped pair whose fields differ
    DELETED_IN_GHL = "deleted_in_ghl"  # orphan mapping: the GHL record is gone, no event said so
    DELETED_IN_RANKR = "deleted_in_rankr"  # the mapped Rankr record is deleted or gone
    UNREPAIRABLE = "unrepairable"  # differs, but the mapping's direction/conflict rules keep it so
    DELETE_BUDGET_EXCEEDED = "delete_budget_exceeded"  # more delete candidates than the run may delete
    TWIN = "twin"  # a create raced another writer's: our own record lost and is deleted


class ReconcileError(Exception):
    """A job that cannot run (bad message, unknown or unlinked location)."""


# --------------------------------------------------------------------------------------------------
# Jobs and reports


def _new_run_id() -> str:
    return uuid.uuid4().hex[:16]


@dataclass(frozen=True)
class ReconcileJob:
    location_id: str
    mode: Mode
    dry_run: bool = False
    run_id: str = field(default_factory=_new_run_id)
    continuation: int = 0

    def to_message(self) -> dict[str, Any]:
        return {
            "locationId": self.location_id,
            "mode": self.mode.value,
            "dryRun": self.dry_run,
            "runId": self.run_id,
            "continuation": self.continuation,
        }

    @classmethod
    def from_message(cls, body: Any) -> ReconcileJob:
        if isinstance(body, str | bytes):
            try:
                body = json.loads(body)
            except ValueError:
                raise ReconcileError("reconcile job is not JSON") from None
        if not isinstance(body, Mapping):
            raise ReconcileError("reconcile job must be a JSON object")
        location = body.get("locationId")
        if not isinstance(location, str) or not location or len(location) > 128:
            raise ReconcileError("reconcile job needs a locationId")
        try:
            mode = Mode(body.get("mode", Mode.INCREMENTAL.value))
        except ValueError:
            raise ReconcileError("reconcile job mode must be 'incremental', 'full' or 'notes'") from None
        run_id = body.get("runId") or _new_run_id()
        continuation = body.get("continuation", 0)
        if not isinstance(run_id, str) or not isinstance(continuation, int) or continuation < 0:
            raise ReconcileError("reconcile job runId/continuation are invalid")
        return cls(location, mode, bool(body.get("dryRun", False)), run_id, continuation)

    def next(self) -> ReconcileJob:
        return ReconcileJob(self.location_id, self.mode, self.dry_run, self.run_id, self.continuation + 1)


@dataclass
class ReconcileReport:
    location_id: str
    mode: Mode
    dry_run: bool
    run_id: str
    differences: Counter[str] = field(default_factory=Counter)  # "<entity>.<kind>" -> found
    repaired: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    scanned: Counter[str] = field(default_factory=Counter)
    deletes_withheld: Counter[str] = field(default_factory=Counter)  # entity -> candidates not deleted
    samples: list[dict[str, Any]] = field(default_factory=list)
    complete: bool = False
    continued: bool = False
    sample_size: int = 20

    @property
    def total_differences(self) -> int:
        return sum(self.differences.values())

    @property
    def total_repaired(self) -> int:
        return sum(self.repaired.values())

    def found(
        self,
        entity: Entity,
        kind: DiffKind,
        *,
        ghl_id: str | None = None,
        rankr_id: str | None = None,
        fields: tuple[str, ...] | list[str] = (),
    ) -> None:
        self.differences[f"{entity.value}.{kind.value}"] += 1
        if len(self.samples) < self.sample_size:
            self.samples.append(
                {
                    "entity": entity.value,
                    "kind": kind.value,
                    "ghlId": ghl_id,
                    "rankrId": rankr_id,
                    "fields": list(fields),
                }
            )

    def counters_state(self) -> dict[str, Any]:
        return {
            "differences": dict(self.differences),
            "repaired": dict(self.repaired),
            "failures": dict(self.failures),
            "scanned": dict(self.scanned),
            "deletesWithheld": dict(self.deletes_withheld),
            "samples": self.samples,
        }

    def restore_counters(self, state: Mapping[str, Any]) -> None:
        self.differences.update(state.get("differences") or {})
        self.repaired.update(state.get("repaired") or {})
        self.failures.update(state.get("failures") or {})
        self.scanned.update(state.get("scanned") or {})
        self.deletes_withheld.update(state.get("deletesWithheld") or {})
        self.samples = list(state.get("samples") or [])[: self.sample_size]

    def to_dict(self) -> dict[str, Any]:
        return {
            "locationId": self.location_id,
            "mode": self.mode.value,
            "dryRun": self.dry_run,
            "runId": self.run_id,
            "complete": self.complete,
            "continued": self.continued,
            "totalDifferences": self.total_differences,
            "totalRepaired": self.total_repaired,
            "differences": dict(sorted(self.differences.items())),
            "repaired": dict(sorted(self.repaired.items())),
            "failures": dict(sorted(self.failures.items())),
            "scanned": dict(sorted(self.scanned.items())),
            "deleteBudgetExceeded": bool(self.deletes_withheld),
            "deletesWithheld": dict(sorted(self.deletes_withheld.items())),
            "samples": self.samples,
        }


@dataclass(frozen=True)
class ReconcileSettings:
    page_size: int = 500  # GHL search pageLimit and Rankr list limit (both max 500)
    task_page_size: int = 100
    overlap: timedelta = timedelta(minutes=2)  # search indexing lag: re-read a little before the checkpoint
    time_margin_ms: int = 30_000  # stop (and continue in a new invocation) with less time left
    sample_size: int = 20
    notes: bool = True  # incremental: notes of the contacts that changed
    search_page_window: int = 10_000  # GHL search: page * pageLimit beyond this needs searchAfter
    # Deletes per run and location: max(floor, fraction x mapped contacts); over it, nothing is deleted.
    delete_budget_min: int = 20
    delete_budget_fraction: float = 0.02

    def __post_init__(self) -> None:
        if not 1 <= self.page_size <= 500:
            raise ValueError("page_size must be between 1 and 500")


@dataclass(frozen=True)
class ReconcileOutcome:
    report: ReconcileReport
    continuation: ReconcileJob | None = None


class OutOfTime(Exception):
    """Raised between pages when the invocation is about to time out (cursor already saved)."""
