"""LeadPushFunction's service: the lead-push flow over the container's stores and GHL client."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rankr_ghl.flows.lead_push import (
        ConnectionLookup,
        LeadIdempotency,
        LeadPushService,
        LeadRecords,
        PushSettings,
    )
    from rankr_ghl.ghl.client import GHLClient
    from rankr_ghl.rankr.client import RankrClient
    from rankr_ghl.wiring.infrastructure import Infrastructure


@dataclass(frozen=True)
class LeadPushContainer:
    service: LeadPushService
    idempotency: LeadIdempotency


def _correlation_id() -> str | None:
    from rankr_ghl.observability import logger

    value = logger.get_correlation_id()
    return value if isinstance(value, str) else None


def build_container(
    *,
    ghl_client: Callable[[], GHLClient],
    connections: ConnectionLookup,
    rankr_client: Callable[[], RankrClient] | None = None,
    sync_table: str,
    audit_table: str,
    idempotency_table: str,
    settings: PushSettings | None = None,
    dynamodb: Any = None,
    wrap_records: Callable[[LeadRecords], LeadRecords] | None = None,
    audit_retention_days: int | None = None,
) -> LeadPushContainer:
    """Everything lead push needs, over the AWS adapters (`dynamodb`: a boto3 client to share;
    `wrap_records`: a wrapper around the records port, e.g. devtools' fault injection; `rankr_client`:
    where an async push reads the lead as Rankr holds it now, None: such pushes are not checked)."""
    from rankr_ghl.aws.audit import DynamoAuditLog
    from rankr_ghl.aws.sync_state import SyncStateTable
    from rankr_ghl.flows.lead_push import (
        ConnectionLocationResolver,
        LeadPushService,
        RankrLeadSource,
        SyncLeadMapper,
        SyncLeadRecords,
        dynamodb_idempotency,
    )
    from rankr_ghl.ghl.records import GhlClientRecords
    from rankr_ghl.rankr.records import RankrClientRecords
    from rankr_ghl.sync.mapping_resolver import MappingResolver

    tables = SyncStateTable(sync_table, client=dynamodb)
    resolver = MappingResolver(tables.mapping_config)
    idempotency = dynamodb_idempotency(idempotency_table, client=dynamodb)
    records: LeadRecords = SyncLeadRecords(
        tables.mappings,
        tables.ledger,
        DynamoAuditLog(audit_table, client=dynamodb, retention_days=audit_retention_days),
        resolver,
        correlation_id=_correlation_id,
        claims=tables.lead_claims,
        push_store=tables.lead_push_writes,
    )
    if wrap_records is not None:
        records = wrap_records(records)
    service = LeadPushService(
        ghl=GhlClientRecords(ghl_client),
        records=records,
        mapper=SyncLeadMapper(resolver),
        locations=ConnectionLocationResolver(connections),
        idempotent=idempotency.runner,
        source=RankrLeadSource(RankrClientRecords(rankr_client), connections) if rankr_client else None,
        in_progress_errors=idempotency.in_progress_errors,
        settings=settings,
    )
    return LeadPushContainer(service=service, idempotency=idempotency)


def build_lead_push_container(root: Infrastructure) -> LeadPushContainer:
    from rankr_ghl.flows.lead_push import PushSettings

    settings = root.settings
    # Powertools' idempotency layer needs its client now; it is the container's one client.
    dynamodb = root.dynamodb()
    return build_container(
        ghl_client=root.ghl_client,
        connections=root.connection_store(),
        rankr_client=root.rankr_client,
        sync_table=settings.sync_table,
        audit_table=settings.audit_table,
        idempotency_table=settings.idempotency_table,
        settings=PushSettings(workers=settings.lead_push_workers or PushSettings.workers),
        dynamodb=dynamodb,
        wrap_records=root.overrides.lead_push_records,
        audit_retention_days=settings.audit_retention_days,
    )
