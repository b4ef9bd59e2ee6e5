"""ReconcileFunction's services: the planner (schedules) and the per-location worker (queued jobs).

One function serves both: they share the connections, checkpoints and queue, and the planner path
builds nothing of the worker's (GHL, Rankr) until a job arrives, so a split would only add a
function to deploy and grant.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rankr_ghl.flows.reconcile import ReconcilePlanner, Reconciler, ReconcileWorker
    from rankr_ghl.wiring.infrastructure import Infrastructure


@dataclass(frozen=True)
class ReconcileContainer:
    planner: ReconcilePlanner
    worker: ReconcileWorker
    reconciler: Reconciler


def build_reconcile_container(root: Infrastructure) -> ReconcileContainer:
    from rankr_ghl.flows.reconcile import (
        ReconcilePlanner,
        Reconciler,
        ReconcileWorker,
        SqsJobQueue,
    )
    from rankr_ghl.flows.reconcile_ports import GhlClientPort, RankrClientPort
    from rankr_ghl.sync.mapping_resolver import MappingResolver

    settings = root.settings
    table = root.sync_state()
    queue = SqsJobQueue(settings.reconcile_queue_url, client=root.aws_client("sqs"))
    reconciler = Reconciler(
        ghl=GhlClientPort(root.ghl_client),
        rankr=RankrClientPort(root.rankr_client),
        mappings=table.mappings,
        ledger=table.ledger,
        tombstones=table.tombstones,
        checkpoints=table.checkpoints,
        audit=root.audit_log(),
        mapping_resolver=MappingResolver(table.mapping_config),
    )
    connections = root.connection_store()
    planner = ReconcilePlanner(connections, table.checkpoints, queue)
    return ReconcileContainer(planner, ReconcileWorker(reconciler, connections, queue), reconciler)
