"""ReconcileFunction's services: the planner (schedules) and the per-location worker (queued jobs).

One function serves both (docs/reconcile.md, "One function"): they share the connections,
checkpoints and queue, and the planner path builds nothing of the worker's (GHL, Rankr) until a job
arrives, so a split would only add a function to deploy and grant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rankr_ghl.config import Settings
    from rankr_ghl.flows.reconcile.jobs import ReconcileSettings
    from rankr_ghl.flows.reconcile.planner import ReconcilePlanner
    from rankr_ghl.flows.reconcile.run import Reconciler
    from rankr_ghl.flows.reconcile.worker import ReconcileWorker
    from rankr_ghl.wiring.infrastructure import Infrastructure


@dataclass(frozen=True)
class ReconcileContainer:
    planner: ReconcilePlanner
    worker: ReconcileWorker
    reconciler: Reconciler


def reconcile_settings(settings: Settings) -> ReconcileSettings:
    from rankr_ghl.flows.reconcile.jobs import ReconcileSettings

    defaults = ReconcileSettings()
    return ReconcileSettings(
        delete_budget_min=(
            settings.reconcile_delete_budget_min
            if settings.reconcile_delete_budget_min is not None
            else defaults.delete_budget_min
        ),
        delete_budget_fraction=(
            settings.reconcile_delete_budget_fraction
            if settings.reconcile_delete_budget_fraction is not None
            else defaults.delete_budget_fraction
        ),
    )


def build_reconcile_container(root: Infrastructure) -> ReconcileContainer:
    from rankr_ghl.flows.reconcile.planner import ReconcilePlanner, SqsJobQueue
    from rankr_ghl.flows.reconcile.run import Reconciler
    from rankr_ghl.flows.reconcile.worker import ReconcileWorker
    from rankr_ghl.ghl.records import GhlClientRecords
    from rankr_ghl.observability import PowertoolsCounter
    from rankr_ghl.rankr.records import RankrClientRecords
    from rankr_ghl.sync.mapping_resolver import MappingResolver

    settings = root.settings
    table = root.sync_state()
    queue = SqsJobQueue(settings.reconcile_queue_url, client=root.aws_client("sqs"))
    reconciler = Reconciler(
        ghl=GhlClientRecords(root.ghl_client),
        rankr=RankrClientRecords(root.rankr_client),
        mappings=table.mappings,
        ledger=table.ledger,
        tombstones=table.tombstones,
        checkpoints=table.checkpoints,
        audit=root.audit_log(),
        lead_claims=table.lead_claims,
        metrics=PowertoolsCounter(),
        mapping_resolver=MappingResolver(table.mapping_config),
        settings=reconcile_settings(settings),
    )
    connections = root.connection_store()
    planner = ReconcilePlanner(connections, table.checkpoints, queue)
    return ReconcileContainer(planner, ReconcileWorker(reconciler, connections, queue), reconciler)
