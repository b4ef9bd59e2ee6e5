"""The state of one reconcile job and the plumbing every phase shares: the cursor, the report,
guarded repairs, the audit trail and the delete budget."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rankr_ghl.flows.reconcile.full_index import FullIndex
from rankr_ghl.flows.reconcile.jobs import (
    FLOW,
    DiffKind,
    OutOfTime,
    ReconcileJob,
    ReconcileReport,
    cursor_checkpoint,
)
from rankr_ghl.flows.reconcile.record_values import common_fields, retryable
from rankr_ghl.flows.reconcile.search_paging import cursor_advances, next_cursor
from rankr_ghl.observability import logger, redact_text
from rankr_ghl.ports import Record
from rankr_ghl.sync.mapping import FieldMapping
from rankr_ghl.sync.ports import AuditAction, AuditEntry, AuditOutcome, LedgerEntry, MappingConflict
from rankr_ghl.sync.types import Entity

if TYPE_CHECKING:
    from rankr_ghl.flows.reconcile.services import ReconcileServices
    from rankr_ghl.sync.echo import Decision


class RunContext:
    """One job: the location, its field mapping, the cursor state and the report."""

    def __init__(
        self,
        reconciler: ReconcileServices,
        job: ReconcileJob,
        account_id: str,
        remaining_ms: Callable[[], int] | None,
        progress: Callable[[str, int], None] | None,
    ) -> None:
        self.ghl = reconciler.ghl
        self.rankr = reconciler.rankr
        self.mappings = reconciler.mappings
        self.ledger = reconciler.ledger
        self.tombstones = reconciler.tombstones
        self.checkpoints = reconciler.checkpoints
        self.audit_log = reconciler.audit
        self.lead_claims = reconciler.lead_claims
        self.metrics = reconciler.metrics
        self.clock = reconciler.clock
        self.settings = reconciler.settings
        self.job = job
        self.location_id = job.location_id
        self.account_id = account_id
        self.dry_run = job.dry_run
        self.remaining_ms = remaining_ms
        self.progress = progress
        self.field_mapping: FieldMapping = reconciler.mapping_resolver.for_location(
            job.location_id, account_id
        )
        self.contact_mapping = self.field_mapping.contact
        self.common = common_fields(self.contact_mapping)
        self.mode = job.mode
        self.report = ReconcileReport(
            job.location_id, job.mode, job.dry_run, job.run_id, sample_size=self.settings.sample_size
        )
        self.state: dict[str, Any] = {}
        self.since: datetime | None = None
        self.processed_ghl: set[str] = set()
        self.notes_done: set[str] = set()
        self.full_index: FullIndex | None = None

    # ---- the delete budget --------------------------------------------------------------------
    def delete_budget(self) -> int:
        """Deletes this run may make in the location: the larger of a floor and a share of the mapped
        contacts (the count of the last full pass, or of this one)."""
        mapped = int(self.state.get("mappedContacts") or 0)
        return max(self.settings.delete_budget_min, int(mapped * self.settings.delete_budget_fraction))

    def deletes_allowed(self, entity: Entity, candidates: int) -> bool:
        """True when `candidates` more deletes fit in the budget (and reserves them). Otherwise the run
        deletes none of them: the refusal is audited, reported and counted as a metric."""
        used = int(self.state.get("deletesUsed") or 0)
        if used + candidates <= self.delete_budget():
            self.state["deletesUsed"] = used + candidates
            return True
        self.report.deletes_withheld[entity.value] += candidates
        logger.warning(
            "reconcile delete budget exceeded: nothing deleted",
            extra={
                "location_id": self.location_id,
                "entity": entity.value,
                "candidates": candidates,
                "budget": self.delete_budget(),
                "used": used,
            },
        )
        self.audit(
            entity,
            AuditAction.SKIP,
            "none",
            DiffKind.DELETE_BUDGET_EXCEEDED,
            outcome=AuditOutcome.SKIPPED,
            fields=(f"candidates:{candidates}", f"budget:{self.delete_budget()}", f"used:{used}"),
        )
        self.metrics.count("ReconcileDeleteBudgetExceeded")
        return False

    def save_cursor(self) -> None:
        if self.dry_run:
            return
        self.state["report"] = self.report.counters_state()
        self.checkpoints.save(self.location_id, cursor_checkpoint(self.mode), self.state)

    def page_boundary(self) -> None:
        """Between pages: save the cursor, then stop if the invocation is short of time."""
        self.save_cursor()
        if self.remaining_ms is not None and self.remaining_ms() < self.settings.time_margin_ms:
            raise OutOfTime()

    def tick(self, what: str, n: int = 1) -> None:
        self.report.scanned[what] += n
        if self.progress is not None:
            self.progress(what, n)

    # ---- guarded repairs ----------------------------------------------------------------------
    def guard(
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
            self.fail(entity, kind, exc, ghl_id=ghl_id, rankr_id=rankr_id)
        except Exception as exc:
            if retryable(exc) or not hasattr(exc, "retryable"):
                raise
            self.fail(entity, kind, exc, ghl_id=ghl_id, rankr_id=rankr_id)

    def fail(
        self, entity: Entity, kind: DiffKind, exc: Exception, *, ghl_id: str | None, rankr_id: str | None
    ) -> None:
        self.report.failures[f"{entity.value}.{kind.value}"] += 1
        logger.warning(
            "reconcile repair failed",
            extra={
                "location_id": self.location_id,
                "entity": entity.value,
                "kind": kind.value,
                "error": type(exc).__name__,
            },
        )
        self.audit(
            entity,
            AuditAction.FAILURE,
            "none",
            kind,
            outcome=AuditOutcome.FAILED,
            error=redact_text(str(exc))[:500],
            ghl_id=ghl_id,
            rankr_id=rankr_id,
        )

    def audit(
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
        self.audit_log.record(
            AuditEntry(
                location_id=self.location_id,
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

    def audit_written(
        self,
        entity: Entity,
        action: AuditAction,
        decision: Decision,
        kind: DiffKind,
        *,
        ghl_id: str,
        rankr_id: str,
        to_rankr: bool,
    ) -> None:
        """Audit a decision this run wrote to one side (`to_rankr`: Rankr)."""
        direction = "ghl_to_rankr" if to_rankr else "rankr_to_ghl"
        fields = decision.fields_changed
        self.audit(entity, action, direction, kind, fields=fields, ghl_id=ghl_id, rankr_id=rankr_id)

    def written_entries(
        self, entity: Entity, decision: Decision, *, ghl_id: str, rankr_id: str, to_rankr: bool
    ) -> list[LedgerEntry]:
        """The ledger entries to store once a decision was written to one side (`to_rankr`: Rankr)."""
        return decision.ledger_entries(
            self.location_id,
            entity,
            change_id=ghl_id if to_rankr else rankr_id,
            other_id=rankr_id if to_rankr else ghl_id,
            correlation_id=self.report.run_id,
        )

    def count_repaired(self, entity: Entity, kind: DiffKind) -> None:
        self.report.repaired[f"{entity.value}.{kind.value}"] += 1

    # ---- GHL contact search, page by page (see search_paging) ---------------------------------
    def search_page(
        self, sort: list[dict[str, Any]], filters: list[dict[str, Any]] | None = None
    ) -> list[Record]:
        """The next page of the pass's search; `advance_search` moves the cursor past it."""
        limit = self.settings.page_size
        # The offset, not a page number, is saved: a resumed pass may page with another page size
        # (it re-reads at most one page's worth, harmlessly).
        page_number = int(self.state.get("searchOffset") or 0) // limit + 1
        cursor = self.state.get("searchAfter")
        if cursor is None and page_number * limit <= self.settings.search_page_window:
            page = self.ghl.search_contacts(
                self.location_id, page_limit=limit, sort=sort, filters=filters, page=page_number
            )
        else:
            page = self.ghl.search_contacts(
                self.location_id, page_limit=limit, sort=sort, filters=filters, search_after=cursor
            )
        self.tick("ghl_search_calls")
        return page.records

    def advance_search(self, records: list[Record], sort: list[dict[str, Any]]) -> bool:
        """Move past `records`. False when a cursor would not move forward (GHL ignored the sort and
        sent no cursor of its own): the search ends there, and what it missed is read directly."""
        offset = int(self.state.get("searchOffset") or 0) + len(records)
        self.state["searchOffset"] = offset
        page_number = offset // self.settings.page_size + 1
        previous = self.state.get("searchAfter")
        if previous is None and page_number * self.settings.page_size <= self.settings.search_page_window:
            return True
        cursor = next_cursor(records, sort)
        if cursor is None or (previous is not None and not cursor_advances(previous, cursor)):
            logger.warning(
                "reconcile search cursor does not advance: search ends early",
                extra={"location_id": self.location_id, "page": page_number},
            )
            return False
        self.state["searchAfter"] = cursor
        return True
