"""Scheduled reconcile: the planner (one job per active location) and the per-location worker.

Modes (docs/reconcile.md):
- incremental: GHL contacts whose `dateUpdated` is past the checkpoint (minus an overlap for search's
  indexing lag), Rankr contacts `updated_since` the checkpoint, the location's tasks (GHL has no
  TaskUpdate event) and the notes of the contacts that changed;
- full: every contact on both sides in pages of 500. Memory stays flat: Rankr is reduced to a compact
  index (id -> 8-byte digest of its canonical fields + deleted flag), mappings to an id -> id dict, and
  GHL contacts are streamed sorted by id, so orphan mappings are found per page by id range.

Repairs go through the sync core (`reconcile_pair`/`decide`: direction, conflict rules, echo ledger),
every repair is audited, a dry run writes nothing. The cursor is saved after every page; a run that
is short of time stops, saves it and returns a continuation job; the checkpoint (the incremental
window's start and the last success) only moves after a run completed.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from rankr_ghl.flows.reconcile_ports import GhlPort, RankrPort
from rankr_ghl.observability import logger, redact_text
from rankr_ghl.ports import Record
from rankr_ghl.rankr.keys import ghl_mirror_key
from rankr_ghl.sync import diff
from rankr_ghl.sync.echo import Action, Decision, decide, is_echo, load_ledgers, reconcile_pair
from rankr_ghl.sync.mapping import EntityMapping, FieldMapping
from rankr_ghl.sync.mapping_resolver import MappingResolver
from rankr_ghl.sync.ports import (
    AuditAction,
    AuditEntry,
    AuditOutcome,
    AuditSink,
    CheckpointStore,
    IdMapping,
    LedgerStore,
    MappingConflict,
    MappingStore,
    Tombstone,
    TombstoneStore,
    utcnow,
)
from rankr_ghl.sync.transforms import LEAD_TAG_PREFIX
from rankr_ghl.sync.types import DeleteAction, Entity, Side

if TYPE_CHECKING:
    from rankr_ghl.connections.models import Connection

FLOW = "reconcile"
STATE_CHECKPOINT = "reconcile:state"


def cursor_checkpoint(mode: Mode) -> str:
    return f"reconcile:cursor:{mode.value}"


class Mode(StrEnum):
    INCREMENTAL = "incremental"
    FULL = "full"


class DiffKind(StrEnum):
    MISSING_IN_RANKR = "missing_in_rankr"  # a GHL record never mapped and without a Rankr twin
    MISSING_IN_GHL = "missing_in_ghl"  # a Rankr record never mapped and without a GHL twin
    UNMAPPED_MATCH = "unmapped_match"  # both sides have it (same lead id / e-mail / phone), not linked
    DRIFTED = "drifted"  # a mapped pair whose fields differ
    DELETED_IN_GHL = "deleted_in_ghl"  # orphan mapping: the GHL record is gone, no event said so
    DELETED_IN_RANKR = "deleted_in_rankr"  # the mapped Rankr record is deleted or gone
    UNREPAIRABLE = "unrepairable"  # differs, but the mapping's direction/conflict rules keep it so


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
            raise ReconcileError("reconcile job mode must be 'incremental' or 'full'") from None
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
            "samples": self.samples,
        }

    def restore_counters(self, state: Mapping[str, Any]) -> None:
        self.differences.update(state.get("differences") or {})
        self.repaired.update(state.get("repaired") or {})
        self.failures.update(state.get("failures") or {})
        self.scanned.update(state.get("scanned") or {})
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
    full_sort_field: str = "id"

    def __post_init__(self) -> None:
        if not 1 <= self.page_size <= 500:
            raise ValueError("page_size must be between 1 and 500")


@dataclass(frozen=True)
class ReconcileOutcome:
    report: ReconcileReport
    continuation: ReconcileJob | None = None


class _OutOfTime(Exception):
    """Raised between pages when the invocation is about to time out (cursor already saved)."""


# --------------------------------------------------------------------------------------------------
# Helpers


def _digest8(values: Mapping[str, Any], names: tuple[str, ...]) -> bytes:
    return hashlib.sha256(
        json.dumps([diff.value_digest(values.get(n)) for n in names], separators=(",", ":")).encode()
    ).digest()[:8]


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _parse_iso(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _sort_key(record_id: str) -> tuple[str, str]:
    """Order of a search sorted by id: case-insensitive, then the raw id (GHL's string sort)."""
    return (record_id.lower(), record_id)


def _is_deleted(record: Mapping[str, Any] | None) -> bool:
    return record is None or record.get("deletedAt") is not None or record.get("deleted") is True


def _retryable(exc: Exception) -> bool:
    return bool(getattr(exc, "retryable", False))


def lead_id_from_tags(tags: Any) -> str | None:
    for tag in tags or []:
        if isinstance(tag, str) and tag.lower().startswith(LEAD_TAG_PREFIX):
            return tag[len(LEAD_TAG_PREFIX) :]
    return None


def common_fields(mapping: EntityMapping) -> tuple[str, ...]:
    """Canonical fields that exist on both sides: what "the two sides are equal" means."""
    return tuple(f.name for f in mapping.fields if f.ghl is not None and f.rankr is not None)


# --------------------------------------------------------------------------------------------------
# The full-mode index (compact: ids and 9-byte entries only)


@dataclass
class _FullIndex:
    ghl_to_rankr: dict[str, str] = field(default_factory=dict)
    sorted_ghl: list[tuple[str, str]] = field(default_factory=list)  # (sort key..., ) of mapped GHL ids
    rankr: dict[str, bytes] = field(default_factory=dict)  # rankr id -> digest(8) + deleted(1)
    unmapped_rankr: dict[str, None] = field(default_factory=dict)  # live, unmapped, not yet linked
    match_email: dict[str, str] = field(default_factory=dict)  # canonical e-mail -> unmapped rankr id
    match_phone: dict[str, str] = field(default_factory=dict)
    match_lead: dict[str, str] = field(default_factory=dict)  # lower(rankr id) -> rankr id

    def mapped_in_range(self, low: tuple[str, str] | None, high: tuple[str, str] | None) -> list[str]:
        """Mapped GHL ids whose sort key is in (low, high]; high None = to the end."""
        start = 0 if low is None else bisect.bisect_right(self.sorted_ghl, low)
        end = len(self.sorted_ghl) if high is None else bisect.bisect_right(self.sorted_ghl, high)
        return [key[1] for key in self.sorted_ghl[start:end]]

    def claim(self, rankr_id: str) -> None:
        self.unmapped_rankr.pop(rankr_id, None)
        for index in (self.match_email, self.match_phone):
            for k in [k for k, v in index.items() if v == rankr_id]:
                del index[k]
        self.match_lead.pop(rankr_id.lower(), None)


# --------------------------------------------------------------------------------------------------
# The worker


class Reconciler:
    """Per-location reconcile. One instance per container; `run` is one job."""

    def __init__(
        self,
        *,
        ghl: GhlPort,
        rankr: RankrPort,
        mappings: MappingStore,
        ledger: LedgerStore,
        tombstones: TombstoneStore,
        checkpoints: CheckpointStore,
        audit: AuditSink,
        mapping_resolver: MappingResolver | None = None,
        settings: ReconcileSettings | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.ghl = ghl
        self.rankr = rankr
        self.mappings = mappings
        self.ledger = ledger
        self.tombstones = tombstones
        self.checkpoints = checkpoints
        self.audit = audit
        self.mapping_resolver = mapping_resolver or MappingResolver()
        self.settings = settings or ReconcileSettings()
        self.clock = clock

    def run(
        self,
        job: ReconcileJob,
        *,
        account_id: str,
        remaining_ms: Callable[[], int] | None = None,
        progress: Callable[[str, int], None] | None = None,
    ) -> ReconcileOutcome:
        run = _Run(self, job, account_id, remaining_ms, progress)
        return run.execute()


class _Run:
    """State of one job: the location, its mapping, the cursor and the report."""

    def __init__(
        self,
        owner: Reconciler,
        job: ReconcileJob,
        account_id: str,
        remaining_ms: Callable[[], int] | None,
        progress: Callable[[str, int], None] | None,
    ) -> None:
        self.o = owner
        self.job = job
        self.loc = job.location_id
        self.account = account_id
        self.dry = job.dry_run
        self.settings = owner.settings
        self.remaining_ms = remaining_ms
        self.progress = progress
        self.fm: FieldMapping = owner.mapping_resolver.for_location(job.location_id, account_id)
        self.cm = self.fm.contact
        self.common = common_fields(self.cm)
        self.mode = job.mode
        self.report = ReconcileReport(
            job.location_id, job.mode, job.dry_run, job.run_id, sample_size=self.settings.sample_size
        )
        self.state: dict[str, Any] = {}
        self.since: datetime | None = None
        self.processed_ghl: set[str] = set()
        self.notes_done: set[str] = set()
        self._index: _FullIndex | None = None

    # ---- orchestration ------------------------------------------------------------------------
    def execute(self) -> ReconcileOutcome:
        now = self.o.clock()
        saved = self.o.checkpoints.load(self.loc, STATE_CHECKPOINT)
        last = saved.value if saved else {}
        since = _parse_iso(last.get("incrementalSince"))
        if self.mode is Mode.INCREMENTAL and since is None:
            self.mode = Mode.FULL  # never reconciled: an incremental window has no start
            self.report.mode = Mode.FULL
        cursor_name = cursor_checkpoint(self.mode)
        resumed = None if self.dry else self.o.checkpoints.load(self.loc, cursor_name)
        if resumed is not None:
            self.state = dict(resumed.value)
            self.report.run_id = str(self.state.get("runId", self.job.run_id))
            self.report.restore_counters(self.state.get("report") or {})
            logger.info(
                "reconcile resumes from cursor",
                extra={"location_id": self.loc, "mode": self.mode.value, "phase": self.state.get("phase")},
            )
        else:
            self.state = {"runId": self.job.run_id, "startedAt": _iso(now), "phase": self._phases()[0]}
        if since is not None:
            self.since = since - self.settings.overlap
        phases = self._phases()
        try:
            start = phases.index(self.state.get("phase", phases[0]))
        except ValueError:
            start = 0
        try:
            for phase in phases[start:]:
                if self.state.get("phase") != phase:
                    self.state = {k: v for k, v in self.state.items() if k in ("runId", "startedAt")}
                    self.state["phase"] = phase
                    self._save_cursor()
                getattr(self, f"_phase_{phase}")()
        except _OutOfTime:
            self.report.continued = True
            logger.info(
                "reconcile stops before the timeout; continuation queued",
                extra={"location_id": self.loc, "phase": self.state.get("phase")},
            )
            return ReconcileOutcome(self.report, self.job.next())
        self.report.complete = True
        if not self.dry:
            started = _parse_iso(self.state.get("startedAt")) or now
            value = dict(last)
            value.update(
                {
                    "incrementalSince": _iso(started),
                    "lastSuccessAt": _iso(self.o.clock()),
                    "lastMode": self.mode.value,
                    "lastRunId": self.report.run_id,
                }
            )
            if self.mode is Mode.FULL:
                value["lastFullAt"] = _iso(self.o.clock())
            self.o.checkpoints.save(self.loc, STATE_CHECKPOINT, value)
            self.o.checkpoints.delete(self.loc, cursor_name)
        logger.info(
            "reconcile finished",
            extra={
                "location_id": self.loc,
                "mode": self.mode.value,
                "dry_run": self.dry,
                "differences": self.report.total_differences,
                "repaired": self.report.total_repaired,
            },
        )
        return ReconcileOutcome(self.report)

    def _phases(self) -> list[str]:
        tasks = ["tasks"] if self.fm.for_entity(Entity.TASK).enabled else []
        if self.mode is Mode.FULL:
            return ["full_contacts", "rankr_unmapped", *tasks]
        return ["ghl_changed", "rankr_changed", *tasks]

    def _save_cursor(self) -> None:
        if self.dry:
            return
        self.state["report"] = self.report.counters_state()
        self.o.checkpoints.save(self.loc, cursor_checkpoint(self.mode), self.state)

    def _page_boundary(self) -> None:
        """Between pages: save the cursor, then stop if the invocation is short of time."""
        self._save_cursor()
        if self.remaining_ms is not None and self.remaining_ms() < self.settings.time_margin_ms:
            raise _OutOfTime()

    def _tick(self, what: str, n: int = 1) -> None:
        self.report.scanned[what] += n
        if self.progress is not None:
            self.progress(what, n)

    # ---- guarded repairs ----------------------------------------------------------------------
    def _guard(
        self,
        entity: Entity,
        kind: DiffKind,
        work: Callable[[], None],
        *,
        ghl_id: str | None = None,
        rankr_id: str | None = None,
    ) -> None:
        """Run one repair; a non-retryable error is audited and counted, a retryable one aborts the
        job (the cursor holds the last finished page, SQS redelivers)."""
        try:
            work()
        except (MappingConflict, ValueError) as exc:  # ValueError: a body the other side's model refuses
            self._fail(entity, kind, exc, ghl_id=ghl_id, rankr_id=rankr_id)
        except Exception as exc:
            if _retryable(exc) or not hasattr(exc, "retryable"):
                raise
            self._fail(entity, kind, exc, ghl_id=ghl_id, rankr_id=rankr_id)

    def _fail(
        self, entity: Entity, kind: DiffKind, exc: Exception, *, ghl_id: str | None, rankr_id: str | None
    ) -> None:
        self.report.failures[f"{entity.value}.{kind.value}"] += 1
        logger.warning(
            "reconcile repair failed",
            extra={
                "location_id": self.loc,
                "entity": entity.value,
                "kind": kind.value,
                "error": type(exc).__name__,
            },
        )
        self._audit(
            entity,
            AuditAction.FAILURE,
            "none",
            kind,
            outcome=AuditOutcome.FAILED,
            error=redact_text(str(exc))[:500],
            ghl_id=ghl_id,
            rankr_id=rankr_id,
        )

    def _audit(
        self,
        entity: Entity,
        action: AuditAction,
        direction: str,
        kind: DiffKind,
        *,
        outcome: AuditOutcome = AuditOutcome.SUCCESS,
        fields: tuple[str, ...] | list[str] = (),
        error: str | None = None,
        ghl_id: str | None = None,
        rankr_id: str | None = None,
    ) -> None:
        self.o.audit.record(
            AuditEntry(
                location_id=self.loc,
                entity=entity,
                action=action,
                outcome=outcome,
                direction=direction,
                ghl_id=ghl_id,
                rankr_id=rankr_id,
                fields=tuple(fields),
                reason=kind.value,
                error=error,
                correlation_id=self.report.run_id,
                flow=FLOW,
            )
        )

    def _repaired(self, entity: Entity, kind: DiffKind) -> None:
        self.report.repaired[f"{entity.value}.{kind.value}"] += 1

    # ---- pairs (shared by contacts, tasks and notes) -----------------------------------------
    def sync_pair(
        self,
        entity: Entity,
        ghl_rec: Record,
        rankr_rec: Record,
        link: IdMapping,
        *,
        kind: DiffKind = DiffKind.DRIFTED,
        ghl_parent: str | None = None,
        rankr_parent: str | None = None,
        count: bool = True,
    ) -> bool:
        """Compare a mapped pair and write what the mapping's rules say. True when something differed.
        `count=False`: part of a repair already counted (a link), so not a difference of its own."""
        em = self.fm.for_entity(entity)
        g, r = em.from_ghl(ghl_rec), em.from_rankr(rankr_rec)
        differing = diff.changed_fields(g, r, common_fields(em))
        if not differing:
            return False
        ledger_g, ledger_r = load_ledgers(
            self.o.ledger, self.loc, entity, ghl_id=link.ghl_id, rankr_id=link.rankr_id
        )
        plan = reconcile_pair(
            g,
            r,
            ledger_g,
            ledger_r,
            em,
            ghl_ts=em.timestamp(Side.GHL, ghl_rec),
            rankr_ts=em.timestamp(Side.RANKR, rankr_rec),
            location_id=self.loc,
            ghl_id=link.ghl_id,
            rankr_id=link.rankr_id,
        )
        if plan.in_sync:
            if count:
                self.report.found(
                    entity,
                    DiffKind.UNREPAIRABLE,
                    ghl_id=link.ghl_id,
                    rankr_id=link.rankr_id,
                    fields=differing,
                )
            return True
        if count:
            self.report.found(entity, kind, ghl_id=link.ghl_id, rankr_id=link.rankr_id, fields=differing)
        if self.dry:
            return True

        def work() -> None:
            entries = []
            if plan.to_rankr.action is Action.WRITE:
                body = plan.to_rankr.rankr_body(em)
                self._rankr_update(entity, link.rankr_id, body, rankr_parent)
                entries += plan.to_rankr.ledger_entries(
                    self.loc,
                    entity,
                    change_id=link.ghl_id,
                    other_id=link.rankr_id,
                    correlation_id=self.report.run_id,
                )
                self._audit(
                    entity,
                    AuditAction.UPDATE,
                    "ghl_to_rankr",
                    kind,
                    fields=plan.to_rankr.fields_changed,
                    ghl_id=link.ghl_id,
                    rankr_id=link.rankr_id,
                )
            if plan.to_ghl.action is Action.WRITE:
                self._ghl_update(
                    entity,
                    em=em,
                    ghl_id=link.ghl_id,
                    decision=plan.to_ghl,
                    current=g,
                    parent=ghl_parent,
                    current_tags=ghl_rec.get("tags"),
                )
                entries += plan.to_ghl.ledger_entries(
                    self.loc,
                    entity,
                    change_id=link.rankr_id,
                    other_id=link.ghl_id,
                    correlation_id=self.report.run_id,
                )
                self._audit(
                    entity,
                    AuditAction.UPDATE,
                    "rankr_to_ghl",
                    kind,
                    fields=plan.to_ghl.fields_changed,
                    ghl_id=link.ghl_id,
                    rankr_id=link.rankr_id,
                )
            for entry in entries:  # later entries (the Rankr -> GHL decision) supersede earlier ones
                self.o.ledger.put(entry)
            if count:
                self._repaired(entity, kind)

        self._guard(entity, kind, work, ghl_id=link.ghl_id, rankr_id=link.rankr_id)
        return True

    def _rankr_update(self, entity: Entity, rankr_id: str, body: dict[str, Any], parent: str | None) -> None:
        if entity is Entity.CONTACT:
            self.o.rankr.update_contact(self.account, rankr_id, body)
        elif entity is Entity.TASK:
            self.o.rankr.update_task(self.account, parent or "", rankr_id, body)
        elif entity is Entity.NOTE:
            self.o.rankr.update_note(self.account, parent or "", rankr_id, body)

    def _ghl_update(
        self,
        entity: Entity,
        *,
        em: EntityMapping,
        ghl_id: str,
        decision: Decision,
        current: Mapping[str, Any],
        parent: str | None,
        current_tags: Any = None,
    ) -> None:
        """`current_tags`: the GHL record's raw tags (lead markers included, which canonical forms drop)."""
        write = decision.ghl_write(em, current_ghl=dict(current))
        if entity is Entity.CONTACT:
            body = dict(write.body)
            add, remove = write.tags_to_add, write.tags_to_remove
            if add and remove and write.tags_replacement is not None:
                # A tag replacement goes in one PUT: between an add and a remove request, the webhook
                # worker could read the half-way tags (old + new, GHL now the newer side) and mirror
                # them to Rankr as a GHL edit, undoing the Rankr edit being carried over.
                markers = [str(t) for t in (current_tags or []) if str(t).lower().startswith(LEAD_TAG_PREFIX)]
                body["tags"] = sorted({*write.tags_replacement, *markers})
                add, remove = [], []
            if body:
                self.o.ghl.update_contact(self.loc, ghl_id, body)
            if add:
                self.o.ghl.add_tags(self.loc, ghl_id, add)
            if remove:
                self.o.ghl.remove_tags(self.loc, ghl_id, remove)
        elif entity is Entity.TASK and write.body:
            self.o.ghl.update_task(self.loc, parent or "", ghl_id, write.body)
        elif entity is Entity.NOTE and write.body:
            self.o.ghl.update_note(self.loc, parent or "", ghl_id, write.body)

    # ---- contacts: creates, links, deletes ------------------------------------------------------
    def create_in_rankr(self, ghl_rec: Record) -> None:
        gid = str(ghl_rec["id"])
        g = self.cm.from_ghl(ghl_rec)
        decision = decide(Side.GHL, g, None, ledger_current=None, ledger_other=None, mapping=self.cm)
        if decision.action is not Action.WRITE:
            return
        self.report.found(
            Entity.CONTACT, DiffKind.MISSING_IN_RANKR, ghl_id=gid, fields=decision.fields_changed
        )
        if self.dry:
            return

        def work() -> None:
            from rankr_ghl.rankr.errors import RankrIdempotencyKeyReused

            body = decision.rankr_body(self.cm)
            try:
                created = self.o.rankr.create_contact(
                    self.account, body, idempotency_key=ghl_mirror_key("contact", self.loc, gid)
                )
            except RankrIdempotencyKeyReused as reused:
                if reused.resource_id is None:
                    raise
                self._adopt(Entity.CONTACT, ghl_rec, reused.resource_id)
                return
            self._record_created(
                Entity.CONTACT, decision, DiffKind.MISSING_IN_RANKR, ghl_id=gid, rankr_id=str(created["id"])
            )

        self._guard(Entity.CONTACT, DiffKind.MISSING_IN_RANKR, work, ghl_id=gid)

    def create_in_ghl(self, rankr_rec: Record) -> None:
        rid = str(rankr_rec["id"])
        r = self.cm.from_rankr(rankr_rec)
        decision = decide(Side.RANKR, r, None, ledger_current=None, ledger_other=None, mapping=self.cm)
        if decision.action is not Action.WRITE:
            return
        self.report.found(
            Entity.CONTACT, DiffKind.MISSING_IN_GHL, rankr_id=rid, fields=decision.fields_changed
        )
        if self.dry:
            return

        def work() -> None:
            body = dict(decision.ghl_write(self.cm).body)
            lead_tag = f"{LEAD_TAG_PREFIX}{rid}".lower()
            if body.get("email") or body.get("phone"):
                # Upsert: a repeat (crash before the mapping write) finds the same contact, never a twin.
                created = self.o.ghl.upsert_contact(self.loc, body)
            else:
                found = self.o.ghl.find_contact_by_tag(self.loc, lead_tag)
                if found is not None:
                    created = found
                else:
                    body["tags"] = sorted({*(body.get("tags") or []), lead_tag})
                    created = self.o.ghl.create_contact(self.loc, body)
            self._record_created(
                Entity.CONTACT, decision, DiffKind.MISSING_IN_GHL, ghl_id=str(created["id"]), rankr_id=rid
            )

        self._guard(Entity.CONTACT, DiffKind.MISSING_IN_GHL, work, rankr_id=rid)

    def _record_created(
        self,
        entity: Entity,
        decision: Decision,
        kind: DiffKind,
        *,
        ghl_id: str,
        rankr_id: str,
        ghl_parent: str | None = None,
        rankr_parent: str | None = None,
    ) -> None:
        """A repair created the record on the side `kind` names: map the pair, write both ledger
        entries, audit the create and count the repair."""
        to_rankr = kind is DiffKind.MISSING_IN_RANKR
        self._put_mapping(
            entity,
            ghl_id,
            rankr_id,
            matched_by="reconcile_create",
            ghl_parent=ghl_parent,
            rankr_parent=rankr_parent,
        )
        self.o.ledger.put_many(
            decision.ledger_entries(
                self.loc,
                entity,
                change_id=ghl_id if to_rankr else rankr_id,
                other_id=rankr_id if to_rankr else ghl_id,
                correlation_id=self.report.run_id,
            )
        )
        self._audit(
            entity,
            AuditAction.CREATE,
            "ghl_to_rankr" if to_rankr else "rankr_to_ghl",
            kind,
            fields=decision.fields_changed,
            ghl_id=ghl_id,
            rankr_id=rankr_id,
        )
        self._repaired(entity, kind)

    def _put_mapping(
        self,
        entity: Entity,
        ghl_id: str,
        rankr_id: str,
        *,
        matched_by: str,
        ghl_parent: str | None = None,
        rankr_parent: str | None = None,
    ) -> IdMapping:
        return self.o.mappings.put(
            IdMapping(
                location_id=self.loc,
                entity=entity,
                ghl_id=ghl_id,
                rankr_id=rankr_id,
                ghl_parent_id=ghl_parent,
                rankr_parent_id=rankr_parent,
                account_id=self.account,
                attributes={"matchedBy": matched_by, "origin": FLOW},
            )
        )

    def _adopt(
        self,
        entity: Entity,
        ghl_rec: Record,
        rankr_id: str,
        *,
        ghl_parent: str | None = None,
        rankr_parent: str | None = None,
    ) -> None:
        """Rankr answered `idempotency-key-reused`: our key already created `rankr_id` (an earlier
        attempt crashed before its mapping write, and the GHL record changed since). That record is
        ours: map it, then bring it up to date as a mapped pair. Never create a twin."""
        gid = str(ghl_rec["id"])
        logger.info(
            "rankr create key already used: adopting the record it created",
            extra={"location_id": self.loc, "entity": entity.value, "rankr_id": rankr_id},
        )
        link = self._put_mapping(
            entity,
            gid,
            rankr_id,
            matched_by="idempotency_key",
            ghl_parent=ghl_parent,
            rankr_parent=rankr_parent,
        )
        self._audit(
            entity, AuditAction.LINK, "none", DiffKind.MISSING_IN_RANKR, ghl_id=gid, rankr_id=rankr_id
        )
        self._repaired(entity, DiffKind.MISSING_IN_RANKR)
        if entity is Entity.CONTACT:
            rankr_rec = self.o.rankr.get_contact(self.account, rankr_id)
        elif entity is Entity.TASK:
            rankr_rec = self.o.rankr.get_task(self.account, rankr_parent or "", rankr_id)
        else:
            notes = self.o.rankr.list_notes(self.account, rankr_parent or "")
            rankr_rec = next((n for n in notes if str(n["id"]) == rankr_id), None)
        if rankr_rec is None or _is_deleted(rankr_rec):
            if rankr_rec is not None and entity is Entity.CONTACT:
                self.rankr_deleted(ghl_rec, link)  # deleted in Rankr meanwhile: the mapping's delete rule
            return  # task and note deletes do not flow to GHL (mapping policy)
        # The record holds nothing but what a mirror of this GHL record wrote: an earlier state of it.
        # As the baseline of both sides, GHL's changes since then win over the record's later timestamp.
        em = self.fm.for_entity(entity)
        mirrored = em.from_rankr(rankr_rec)
        self._observe(entity, em, Side.GHL, gid, mirrored)
        self._observe(entity, em, Side.RANKR, rankr_id, mirrored)
        self.sync_pair(
            entity,
            ghl_rec,
            rankr_rec,
            link,
            kind=DiffKind.MISSING_IN_RANKR,
            ghl_parent=ghl_parent,
            rankr_parent=rankr_parent,
            count=False,
        )

    def link_and_sync(self, ghl_rec: Record, rankr_id: str, matched_by: str) -> None:
        gid = str(ghl_rec["id"])
        self.report.found(
            Entity.CONTACT, DiffKind.UNMAPPED_MATCH, ghl_id=gid, rankr_id=rankr_id, fields=[matched_by]
        )
        if self.dry:
            return
        rankr_rec = self.o.rankr.get_contact(self.account, rankr_id)
        if rankr_rec is None or _is_deleted(rankr_rec):
            self.create_in_rankr(ghl_rec)
            return

        def work() -> None:
            link = self._put_mapping(Entity.CONTACT, gid, rankr_id, matched_by=matched_by)
            self._audit(
                Entity.CONTACT,
                AuditAction.LINK,
                "none",
                DiffKind.UNMAPPED_MATCH,
                ghl_id=gid,
                rankr_id=rankr_id,
            )
            self._repaired(Entity.CONTACT, DiffKind.UNMAPPED_MATCH)
            self.sync_pair(
                Entity.CONTACT, ghl_rec, rankr_rec, link, kind=DiffKind.UNMAPPED_MATCH, count=False
            )

        self._guard(Entity.CONTACT, DiffKind.UNMAPPED_MATCH, work, ghl_id=gid, rankr_id=rankr_id)

    def rankr_deleted(self, ghl_rec: Record, link: IdMapping) -> None:
        """The mapped Rankr contact is deleted; GHL's still exists."""
        action = self.cm.delete_action(Side.RANKR)
        if action is DeleteAction.NONE:
            return
        if action is DeleteAction.TAG:
            tag = self.cm.deleted_tag
            if tag.lower() in {str(t).lower() for t in ghl_rec.get("tags") or []}:
                return  # already marked: in sync
        self.report.found(
            Entity.CONTACT, DiffKind.DELETED_IN_RANKR, ghl_id=link.ghl_id, rankr_id=link.rankr_id
        )
        if self.dry:
            return

        def work() -> None:
            if action is DeleteAction.TAG:
                self.o.ghl.add_tags(self.loc, link.ghl_id, [self.cm.deleted_tag])
                self._audit(
                    Entity.CONTACT,
                    AuditAction.UPDATE,
                    "rankr_to_ghl",
                    DiffKind.DELETED_IN_RANKR,
                    fields=["tags"],
                    ghl_id=link.ghl_id,
                    rankr_id=link.rankr_id,
                )
            else:
                self.o.ghl.delete_contact(self.loc, link.ghl_id)
                self._forget(Entity.CONTACT, link, deleted_side=Side.RANKR)
                self._audit(
                    Entity.CONTACT,
                    AuditAction.DELETE,
                    "rankr_to_ghl",
                    DiffKind.DELETED_IN_RANKR,
                    ghl_id=link.ghl_id,
                    rankr_id=link.rankr_id,
                )
            self._repaired(Entity.CONTACT, DiffKind.DELETED_IN_RANKR)

        self._guard(
            Entity.CONTACT, DiffKind.DELETED_IN_RANKR, work, ghl_id=link.ghl_id, rankr_id=link.rankr_id
        )

    def ghl_deleted(self, entity: Entity, link: IdMapping, rankr_live: bool) -> None:
        """Orphan mapping: the GHL record is gone. Like the webhook worker's delete, the mapping stays
        (with a GHL tombstone), so a late event cannot resurrect the record."""
        em = self.fm.for_entity(entity)
        action = em.delete_action(Side.GHL)
        if not rankr_live or action is DeleteAction.NONE:
            # Already deleted on both sides, or deliberately kept in Rankr: remember, do not count.
            if not self.dry and not self.o.tombstones.is_tombstoned(self.loc, Side.GHL, entity, link.ghl_id):
                self.o.tombstones.bury(Tombstone(self.loc, Side.GHL, entity, link.ghl_id, reason=FLOW))
            return
        self.report.found(entity, DiffKind.DELETED_IN_GHL, ghl_id=link.ghl_id, rankr_id=link.rankr_id)
        if self.dry:
            return

        def work() -> None:
            if entity is Entity.CONTACT:
                self.o.rankr.delete_contact(self.account, link.rankr_id)
            elif entity is Entity.TASK:
                self.o.rankr.delete_task(self.account, link.rankr_parent_id or "", link.rankr_id)
            else:
                self.o.rankr.delete_note(self.account, link.rankr_parent_id or "", link.rankr_id)
            self._forget(entity, link, deleted_side=Side.GHL)
            self._audit(
                entity,
                AuditAction.DELETE,
                "ghl_to_rankr",
                DiffKind.DELETED_IN_GHL,
                ghl_id=link.ghl_id,
                rankr_id=link.rankr_id,
            )
            self._repaired(entity, DiffKind.DELETED_IN_GHL)

        self._guard(entity, DiffKind.DELETED_IN_GHL, work, ghl_id=link.ghl_id, rankr_id=link.rankr_id)

    def _forget(self, entity: Entity, link: IdMapping, *, deleted_side: Side) -> None:
        """Tombstone the deleted side and drop both ledgers; the mapping stays as the pair's memory."""
        record_id = link.ghl_id if deleted_side is Side.GHL else link.rankr_id
        self.o.tombstones.bury(Tombstone(self.loc, deleted_side, entity, record_id, reason=FLOW))
        self.o.ledger.delete(self.loc, entity, Side.GHL, link.ghl_id)
        self.o.ledger.delete(self.loc, entity, Side.RANKR, link.rankr_id)

    # ---- full mode ----------------------------------------------------------------------------
    def _build_index(self) -> _FullIndex:
        idx = _FullIndex()
        for m in self.o.mappings.list_for_location(self.loc, Entity.CONTACT):
            idx.ghl_to_rankr[m.ghl_id] = m.rankr_id
        idx.sorted_ghl = sorted(_sort_key(g) for g in idx.ghl_to_rankr)
        mapped_rankr = set(idx.ghl_to_rankr.values())
        cursor: str | None = None
        while True:
            page = self.o.rankr.list_contacts(
                self.account,
                updated_since=None,
                include_deleted=True,
                cursor=cursor,
                limit=self.settings.page_size,
            )
            for rec in page.records:
                rid = str(rec["id"])
                deleted = _is_deleted(rec)
                r = self.cm.from_rankr(rec)
                idx.rankr[rid] = _digest8(r, self.common) + (b"\x01" if deleted else b"\x00")
                if not deleted and rid not in mapped_rankr:
                    idx.unmapped_rankr[rid] = None
                    idx.match_lead[rid.lower()] = rid
                    if r.get("email"):
                        idx.match_email.setdefault(str(r["email"]), rid)
                    if r.get("phone"):
                        idx.match_phone.setdefault(str(r["phone"]), rid)
            self._tick("rankr_contacts", len(page.records))
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        return idx

    def _phase_full_contacts(self) -> None:
        idx = self._index = self._build_index()
        sort = [{"field": self.settings.full_sort_field, "direction": "asc"}]
        limit = self.settings.page_size
        while True:
            search_after = self.state.get("searchAfter")
            stored_key = self.state.get("lastKey")
            last_key = (str(stored_key[0]), str(stored_key[1])) if stored_key else None
            if search_after:
                page = self.o.ghl.search_contacts(
                    self.loc, page_limit=limit, sort=sort, search_after=search_after
                )
            else:
                page = self.o.ghl.search_contacts(self.loc, page_limit=limit, sort=sort, page=1)
            records = page.records
            self._tick("ghl_contacts", len(records))
            seen: set[str] = set()
            for rec in records:
                seen.add(str(rec["id"]))
                self._full_contact(rec, idx)
            done = len(records) < limit
            high = None if done else _sort_key(str(records[-1]["id"]))
            for gid in idx.mapped_in_range(last_key, high):
                if gid not in seen:
                    rid = idx.ghl_to_rankr[gid]
                    entry = idx.rankr.get(rid)
                    live = entry is not None and entry[-1:] == b"\x00"
                    self.ghl_deleted(Entity.CONTACT, IdMapping(self.loc, Entity.CONTACT, gid, rid), live)
            if done:
                return
            self.state["searchAfter"] = page.next_search_after
            self.state["lastKey"] = list(high) if high else None
            self._page_boundary()

    def _full_contact(self, rec: Record, idx: _FullIndex) -> None:
        gid = str(rec["id"])
        rid = idx.ghl_to_rankr.get(gid)
        if rid is not None:
            link = IdMapping(self.loc, Entity.CONTACT, gid, rid)
            entry = idx.rankr.get(rid)
            if entry is None or entry[-1:] == b"\x01":
                self.rankr_deleted(rec, link)
                return
            if _digest8(self.cm.from_ghl(rec), self.common) == entry[:8]:
                return  # equal on every common field: nothing to read, nothing to write
            rankr_rec = self.o.rankr.get_contact(self.account, rid)
            if rankr_rec is None or _is_deleted(rankr_rec):
                self.rankr_deleted(rec, link)
            else:
                self.sync_pair(Entity.CONTACT, rec, rankr_rec, link)
            return
        g = self.cm.from_ghl(rec)
        match: tuple[str, str] | None = None
        lead = lead_id_from_tags(rec.get("tags"))
        if lead and lead.lower() in idx.match_lead:
            match = (idx.match_lead[lead.lower()], "lead_id")
        elif g.get("email") and str(g["email"]) in idx.match_email:
            match = (idx.match_email[str(g["email"])], "email")
        elif g.get("phone") and str(g["phone"]) in idx.match_phone:
            match = (idx.match_phone[str(g["phone"])], "phone")
        if match is not None:
            idx.claim(match[0])
            self.link_and_sync(rec, match[0], match[1])
        else:
            self.create_in_rankr(rec)

    def _phase_rankr_unmapped(self) -> None:
        idx = self._index or self._build_index()
        for n, rid in enumerate(list(idx.unmapped_rankr)):
            if self.o.tombstones.is_tombstoned(self.loc, Side.RANKR, Entity.CONTACT, rid):
                continue
            if self.o.mappings.get_by_rankr(self.loc, Entity.CONTACT, rid) is not None:
                continue  # linked meanwhile (webhook, lead push or an earlier part of this run)
            rec = self.o.rankr.get_contact(self.account, rid)
            if rec is None or _is_deleted(rec):
                continue
            self.create_in_ghl(rec)
            if n % self.settings.page_size == self.settings.page_size - 1:
                self._page_boundary()

    # ---- incremental mode ---------------------------------------------------------------------
    def _phase_ghl_changed(self) -> None:
        assert self.since is not None
        sort = [{"field": "dateUpdated", "direction": "asc"}]
        filters = [{"field": "dateUpdated", "operator": "range", "value": {"gte": _iso(self.since)}}]
        limit = self.settings.page_size
        while True:
            search_after = self.state.get("searchAfter")
            if search_after:
                page = self.o.ghl.search_contacts(
                    self.loc, page_limit=limit, sort=sort, filters=filters, search_after=search_after
                )
            else:
                page = self.o.ghl.search_contacts(
                    self.loc, page_limit=limit, sort=sort, filters=filters, page=1
                )
            self._tick("ghl_contacts", len(page.records))
            for rec in page.records:
                self._changed_ghl_contact(rec)
            if len(page.records) < limit:
                return
            self.state["searchAfter"] = page.next_search_after
            self._page_boundary()

    def _changed_ghl_contact(self, rec: Record) -> None:
        gid = str(rec["id"])
        self.processed_ghl.add(gid)
        link = self.o.mappings.get_by_ghl(self.loc, Entity.CONTACT, gid)
        if link is None:
            lead = lead_id_from_tags(rec.get("tags"))
            if lead and self.o.mappings.get_by_rankr(self.loc, Entity.CONTACT, lead) is None:
                twin = self.o.rankr.get_contact(self.account, lead)
                if twin is not None and not _is_deleted(twin):
                    self.link_and_sync(rec, str(twin["id"]), "lead_id")
                    self._sync_notes(gid)
                    return
            self.create_in_rankr(rec)
            self._sync_notes(gid)
            return
        rankr_rec = self.o.rankr.get_contact(self.account, link.rankr_id)
        if rankr_rec is None or _is_deleted(rankr_rec):
            self.rankr_deleted(rec, link)
            return
        if not self.sync_pair(Entity.CONTACT, rec, rankr_rec, link):
            ledger_g = self.o.ledger.get(self.loc, Entity.CONTACT, Side.GHL, gid)
            if is_echo(self.cm.from_ghl(rec), ledger_g, self.cm, Side.GHL):
                return  # its dateUpdated moved because of our own write: no person touched its notes
        self._sync_notes(gid, link)

    def _phase_rankr_changed(self) -> None:
        assert self.since is not None
        while True:
            page = self.o.rankr.list_contacts(
                self.account,
                updated_since=self.since,
                include_deleted=True,
                cursor=self.state.get("rankrCursor"),
                limit=self.settings.page_size,
            )
            self._tick("rankr_contacts", len(page.records))
            for rec in page.records:
                self._changed_rankr_contact(rec)
            if not page.next_cursor:
                return
            self.state["rankrCursor"] = page.next_cursor
            self._page_boundary()

    def _changed_rankr_contact(self, rec: Record) -> None:
        rid = str(rec["id"])
        link = self.o.mappings.get_by_rankr(self.loc, Entity.CONTACT, rid)
        if link is None:
            if _is_deleted(rec) or self.o.tombstones.is_tombstoned(self.loc, Side.RANKR, Entity.CONTACT, rid):
                return
            self.create_in_ghl(rec)
            return
        if link.ghl_id in self.processed_ghl:
            return  # compared in the GHL pass of this run (our own write bumped updatedAt)
        ghl_rec = self.o.ghl.get_contact(self.loc, link.ghl_id)
        self._tick("ghl_contact_reads")
        if ghl_rec is None:
            self.ghl_deleted(Entity.CONTACT, link, not _is_deleted(rec))
            return
        if _is_deleted(rec):
            self.rankr_deleted(ghl_rec, link)
            return
        self.sync_pair(Entity.CONTACT, ghl_rec, rec, link)
        self._sync_notes(link.ghl_id, link)

    # ---- notes (of the contacts that changed) -------------------------------------------------
    def _sync_notes(self, ghl_contact_id: str, link: IdMapping | None = None) -> None:
        nm = self.fm.for_entity(Entity.NOTE)
        if not self.settings.notes or not nm.enabled or ghl_contact_id in self.notes_done:
            return
        self.notes_done.add(ghl_contact_id)
        link = link or self.o.mappings.get_by_ghl(self.loc, Entity.CONTACT, ghl_contact_id)
        if link is None:
            return  # dry run: the contact is not created, so neither are its notes
        ghl_notes = {str(n["id"]): n for n in self.o.ghl.list_notes(self.loc, ghl_contact_id)}
        rankr_notes = {str(n["id"]): n for n in self.o.rankr.list_notes(self.account, link.rankr_id)}
        self._tick("note_contacts")
        for nid, note in ghl_notes.items():
            nlink = self.o.mappings.get_by_ghl(self.loc, Entity.NOTE, nid)
            if nlink is None:
                self._create_child_in_rankr(Entity.NOTE, note, ghl_contact_id, link.rankr_id)
                continue
            twin = rankr_notes.get(nlink.rankr_id)
            if twin is None or _is_deleted(twin):
                continue  # deleted in Rankr: note deletes do not flow to GHL (mapping policy)
            self.sync_pair(
                Entity.NOTE, note, twin, nlink, ghl_parent=ghl_contact_id, rankr_parent=link.rankr_id
            )
        for rid, note in rankr_notes.items():
            if _is_deleted(note):
                continue
            nlink = self.o.mappings.get_by_rankr(self.loc, Entity.NOTE, rid)
            if nlink is None:
                self._create_note_in_ghl(note, ghl_contact_id, link.rankr_id)
            elif nlink.ghl_id not in ghl_notes:
                self.ghl_deleted(Entity.NOTE, nlink, True)

    def _create_child_in_rankr(
        self, entity: Entity, ghl_rec: Record, ghl_parent: str, rankr_parent: str
    ) -> None:
        em = self.fm.for_entity(entity)
        gid = str(ghl_rec["id"])
        g = em.from_ghl(ghl_rec)
        decision = decide(Side.GHL, g, None, ledger_current=None, ledger_other=None, mapping=em)
        if decision.action is not Action.WRITE:
            return
        self.report.found(entity, DiffKind.MISSING_IN_RANKR, ghl_id=gid, fields=decision.fields_changed)
        if self.dry:
            return

        def work() -> None:
            from rankr_ghl.rankr.errors import RankrIdempotencyKeyReused

            body = decision.rankr_body(em)
            key = ghl_mirror_key(entity.value, self.loc, gid)
            try:
                if entity is Entity.TASK:
                    created = self.o.rankr.create_task(self.account, rankr_parent, body, idempotency_key=key)
                else:
                    created = self.o.rankr.create_note(self.account, rankr_parent, body, idempotency_key=key)
            except RankrIdempotencyKeyReused as reused:
                if reused.resource_id is None:
                    raise
                self._adopt(
                    entity, ghl_rec, reused.resource_id, ghl_parent=ghl_parent, rankr_parent=rankr_parent
                )
                return
            self._record_created(
                entity,
                decision,
                DiffKind.MISSING_IN_RANKR,
                ghl_id=gid,
                rankr_id=str(created["id"]),
                ghl_parent=ghl_parent,
                rankr_parent=rankr_parent,
            )

        self._guard(entity, DiffKind.MISSING_IN_RANKR, work, ghl_id=gid)

    def _create_note_in_ghl(self, rankr_rec: Record, ghl_parent: str, rankr_parent: str) -> None:
        em = self.fm.for_entity(Entity.NOTE)
        rid = str(rankr_rec["id"])
        decision = decide(
            Side.RANKR, em.from_rankr(rankr_rec), None, ledger_current=None, ledger_other=None, mapping=em
        )
        if decision.action is not Action.WRITE:
            return
        self.report.found(Entity.NOTE, DiffKind.MISSING_IN_GHL, rankr_id=rid, fields=decision.fields_changed)
        if self.dry:
            return

        def work() -> None:
            created = self.o.ghl.create_note(self.loc, ghl_parent, decision.ghl_write(em).body)
            self._record_created(
                Entity.NOTE,
                decision,
                DiffKind.MISSING_IN_GHL,
                ghl_id=str(created["id"]),
                rankr_id=rid,
                ghl_parent=ghl_parent,
                rankr_parent=rankr_parent,
            )

        self._guard(Entity.NOTE, DiffKind.MISSING_IN_GHL, work, rankr_id=rid)

    # ---- tasks (no TaskUpdate event: compared through the location tasks search) --------------
    def _phase_tasks(self) -> None:
        tm = self.fm.for_entity(Entity.TASK)
        task_links: dict[str, tuple[str, str | None, str | None]] = {
            m.ghl_id: (m.rankr_id, m.ghl_parent_id, m.rankr_parent_id)
            for m in self.o.mappings.list_for_location(self.loc, Entity.TASK)
        }
        contact_links: dict[str, str | None] = {}  # ghl contact id -> rankr contact id (per run cache)
        skip = 0
        limit = self.settings.task_page_size
        while True:
            page = self.o.ghl.search_tasks(self.loc, limit=limit, skip=skip)
            self._tick("ghl_tasks", len(page))
            for task in page:
                if task.get("deleted") is True:
                    continue
                tid = str(task["id"])
                known = task_links.pop(tid, None)
                if known is None:
                    self._new_ghl_task(task, contact_links)
                    continue
                rid, ghl_parent, rankr_parent = known
                g = tm.from_ghl(task)
                ledger_g = self.o.ledger.get(self.loc, Entity.TASK, Side.GHL, tid)
                if (
                    ledger_g is not None
                    and diff.record_digest(diff.field_digests(g, [f.name for f in tm.fields_on(Side.GHL)]))
                    == ledger_g.digest
                ):
                    continue  # unchanged in GHL since we last synced it
                twin = self.o.rankr.get_task(self.account, rankr_parent or "", rid)
                link = IdMapping(
                    self.loc, Entity.TASK, tid, rid, ghl_parent_id=ghl_parent, rankr_parent_id=rankr_parent
                )
                if twin is None or _is_deleted(twin):
                    continue  # deleted in Rankr: task deletes do not flow to GHL (mapping policy)
                differed = self.sync_pair(
                    Entity.TASK,
                    task,
                    twin,
                    link,
                    ghl_parent=str(task.get("contactId") or ghl_parent or ""),
                    rankr_parent=rankr_parent,
                )
                if not differed and not self.dry:
                    # Equal but no baseline yet: remember both states so the next run skips the read.
                    self._observe(Entity.TASK, tm, Side.GHL, tid, g)
                    self._observe(Entity.TASK, tm, Side.RANKR, rid, tm.from_rankr(twin))
            if len(page) < limit:
                break
            skip += len(page)
        for tid, (rid, ghl_parent, rankr_parent) in task_links.items():
            link = IdMapping(
                self.loc, Entity.TASK, tid, rid, ghl_parent_id=ghl_parent, rankr_parent_id=rankr_parent
            )
            twin = self.o.rankr.get_task(self.account, rankr_parent or "", rid)
            self.ghl_deleted(Entity.TASK, link, twin is not None and not _is_deleted(twin))

    def _observe(
        self, entity: Entity, em: EntityMapping, side: Side, record_id: str, canonical: Record
    ) -> None:
        from rankr_ghl.sync.echo import ledger_entry

        self.o.ledger.put(
            ledger_entry(
                self.loc,
                entity,
                side,
                record_id,
                canonical=canonical,
                mapping=em,
                origin="observed",
                correlation_id=self.report.run_id,
            )
        )

    def _new_ghl_task(self, task: Record, contact_links: dict[str, str | None]) -> None:
        contact_id = str(task.get("contactId") or "")
        if not contact_id:
            return
        if contact_id not in contact_links:
            m = self.o.mappings.get_by_ghl(self.loc, Entity.CONTACT, contact_id)
            contact_links[contact_id] = m.rankr_id if m else None
        rankr_parent = contact_links[contact_id]
        if rankr_parent is None:
            return  # the contact itself is not mirrored (yet): its tasks follow it
        self._create_child_in_rankr(Entity.TASK, task, contact_id, rankr_parent)


# --------------------------------------------------------------------------------------------------
# Planner


class JobQueue(Protocol):
    def send(self, job: ReconcileJob) -> None: ...


class ConnectionLister(Protocol):
    def list(self) -> Iterator[Connection]: ...

    def get(self, connection_id: str) -> Connection | None: ...


class SqsJobQueue:
    """ReconcileQueue (FIFO): one message group per location keeps its rate budget serial."""

    def __init__(self, queue_url: str, client: Any = None) -> None:
        if not queue_url:
            raise ReconcileError("RECONCILE_QUEUE_URL is not set")
        self.queue_url = queue_url
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3

            self._client = boto3.client("sqs")
        return self._client

    def send(self, job: ReconcileJob) -> None:
        self.client.send_message(
            QueueUrl=self.queue_url,
            MessageBody=json.dumps(job.to_message(), separators=(",", ":")),
            MessageGroupId=job.location_id,
            MessageDeduplicationId=f"{job.run_id}-{job.continuation}",
        )


@dataclass
class PlanResult:
    mode: Mode
    enqueued: list[str] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)  # status -> count
    stale: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode.value,
            "enqueued": len(self.enqueued),
            "skipped": dict(self.skipped),
            "staleLocations": len(self.stale),
        }


class ReconcilePlanner:
    """Lists connections, enqueues one job per active, linked location, counts stale locations."""

    def __init__(
        self,
        connections: ConnectionLister,
        checkpoints: CheckpointStore,
        queue: JobQueue,
        *,
        interval: timedelta = timedelta(minutes=15),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.connections = connections
        self.checkpoints = checkpoints
        self.queue = queue
        self.interval = interval
        self.clock = clock

    def plan(self, mode: Mode, *, run_id: str | None = None) -> PlanResult:
        from rankr_ghl.connections.status import ConnectionStatus

        now = self.clock()
        # One run id per schedule firing and mode: a Scheduler retry within SQS's 5-minute
        # deduplication window enqueues nothing twice.
        run_id = run_id or f"{mode.value}-{now.strftime('%Y%m%dT%H%M')}"
        result = PlanResult(mode)
        for connection in self.connections.list():
            if connection.is_company or not connection.location_id:
                continue
            if connection.status is not ConnectionStatus.ACTIVE:
                result.skipped[connection.status.value] += 1
                continue
            if not connection.rankr_account_id:
                result.skipped["unlinked"] += 1
                continue
            location = connection.location_id
            if self._stale(location, connection.installed_at, now):
                result.stale.append(location)
            self.queue.send(ReconcileJob(location, mode, run_id=f"{run_id}-{location}"[:80]))
            result.enqueued.append(location)
        logger.info("reconcile planned", extra=result.to_dict())
        return result

    def _stale(self, location_id: str, installed_at: datetime, now: datetime) -> bool:
        saved = self.checkpoints.load(location_id, STATE_CHECKPOINT)
        last = _parse_iso(saved.value.get("lastSuccessAt")) if saved else None
        reference = last or installed_at
        return now - reference > 2 * self.interval


# --------------------------------------------------------------------------------------------------
# Worker entry (one SQS job)


class ReconcileWorker:
    """A job from ReconcileQueue: checks the connection, runs the reconcile, queues a continuation."""

    def __init__(self, reconciler: Reconciler, connections: ConnectionLister, queue: JobQueue) -> None:
        self.reconciler = reconciler
        self.connections = connections
        self.queue = queue

    def account_for(self, location_id: str) -> str:
        from rankr_ghl.connections.status import ConnectionStatus

        connection = self.connections.get(location_id)
        if connection is None:
            raise ReconcileError(f"no connection for location {location_id}")
        if connection.status is not ConnectionStatus.ACTIVE:
            raise _Inactive(connection.status.value)
        if not connection.rankr_account_id:
            raise ReconcileError(f"location {location_id} is not linked to a Rankr account")
        return connection.rankr_account_id

    def handle(
        self, job: ReconcileJob, *, remaining_ms: Callable[[], int] | None = None
    ) -> ReconcileOutcome | None:
        try:
            account = self.account_for(job.location_id)
        except _Inactive as inactive:
            logger.info(
                "reconcile job skipped: connection not active",
                extra={"location_id": job.location_id, "status": str(inactive)},
            )
            return None
        outcome = self.reconciler.run(job, account_id=account, remaining_ms=remaining_ms)
        if outcome.continuation is not None:
            self.queue.send(outcome.continuation)
        return outcome


class _Inactive(Exception):
    pass


# --------------------------------------------------------------------------------------------------
# Test transfer (`rankr-ghl test-transfer`): what one GHL contact would become in Rankr; writes nothing


@dataclass(frozen=True)
class TransferPreview:
    ghl_contact_id: str
    rankr_contact_id: str | None  # the mapped Rankr contact, when there is one
    would: str  # "create", "update", "nothing" or "skip (<reason>)"
    rankr_body: dict[str, Any]  # the Rankr create/PATCH body the mapping produces
    differences: list[dict[str, Any]]  # {field, ghl, rankr, winner} for fields that differ now
    found: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "ghlContactId": self.ghl_contact_id,
            "rankrContactId": self.rankr_contact_id,
            "found": self.found,
            "would": self.would,
            "rankrBody": self.rankr_body,
            "differences": self.differences,
        }


def preview_transfer(
    *,
    ghl: GhlPort,
    rankr: RankrPort,
    mappings: MappingStore,
    ledger: LedgerStore,
    mapping_resolver: MappingResolver,
    location_id: str,
    account_id: str,
    contact_id: str,
) -> TransferPreview:
    """Map one GHL contact and compare it with the Rankr record that exists now (reads only)."""
    record = ghl.get_contact(location_id, contact_id)
    if record is None:
        return TransferPreview(contact_id, None, "skip (not found in GHL)", {}, [], found=False)
    cm = mapping_resolver.for_location(location_id, account_id).contact
    g = cm.from_ghl(record)
    link = mappings.get_by_ghl(location_id, Entity.CONTACT, contact_id)
    twin = rankr.get_contact(account_id, link.rankr_id) if link else None
    if twin is None or _is_deleted(twin):
        decision = decide(Side.GHL, g, None, ledger_current=None, ledger_other=None, mapping=cm)
        would = "create" if decision.action is Action.WRITE else "nothing"
        if link is not None:
            would = "skip (the mapped Rankr contact is deleted)"
        return TransferPreview(contact_id, link.rankr_id if link else None, would, cm.to_rankr(g), [])
    assert link is not None  # a twin was read through the mapping
    r = cm.from_rankr(twin)
    ledger_g, ledger_r = load_ledgers(
        ledger, location_id, Entity.CONTACT, ghl_id=contact_id, rankr_id=link.rankr_id
    )
    plan = reconcile_pair(
        g,
        r,
        ledger_g,
        ledger_r,
        cm,
        ghl_ts=cm.timestamp(Side.GHL, record),
        rankr_ts=cm.timestamp(Side.RANKR, twin),
    )
    to_rankr = set(plan.to_rankr.fields_changed) if plan.to_rankr.action is Action.WRITE else set()
    to_ghl = set(plan.to_ghl.fields_changed) if plan.to_ghl.action is Action.WRITE else set()
    differences = [
        {
            "field": name,
            "ghl": g.get(name),
            "rankr": r.get(name),
            "winner": "ghl" if name in to_rankr else ("rankr" if name in to_ghl else "kept"),
        }
        for name in diff.changed_fields(g, r, common_fields(cm))
    ]
    would = "update" if to_rankr else "nothing"
    return TransferPreview(contact_id, link.rankr_id if link else None, would, cm.to_rankr(g), differences)
