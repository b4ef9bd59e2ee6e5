"""WebhookIntakeFunction's and WebhookWorkerFunction's services."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rankr_ghl.flows.inbound import InboundProcessor
    from rankr_ghl.flows.inbound.batch import InboundBatch
    from rankr_ghl.flows.intake import WebhookIntake
    from rankr_ghl.ghl.signatures import SignatureVerifier
    from rankr_ghl.wiring.infrastructure import Infrastructure


def build_signature_verifier(root: Infrastructure) -> SignatureVerifier:
    """Keys parsed once per container; a key that does not parse fails naming its variable."""
    from rankr_ghl.config import ConfigError
    from rankr_ghl.ghl.signatures import SignatureConfigError, SignatureVerifier, parse_ed25519_keys

    try:
        return SignatureVerifier(parse_ed25519_keys(root.settings.webhook_public_keys))
    except SignatureConfigError as exc:
        raise ConfigError(f"invalid environment variables: WEBHOOK_PUBLIC_KEYS ({exc})") from exc


def build_webhook_intake(root: Infrastructure) -> WebhookIntake:
    from rankr_ghl.aws.sync_state import DynamoDedupeStore
    from rankr_ghl.flows.intake import IntakeConfig, SqsEventQueue, WebhookIntake
    from rankr_ghl.observability import PowertoolsCounter

    settings = root.settings
    defaults = IntakeConfig()
    client_id = settings.ghl_client_id.strip()
    config = IntakeConfig(
        app_id=client_id.split("-")[0] if client_id else None,
        max_body_bytes=settings.webhook_max_body_bytes or defaults.max_body_bytes,
        retry_horizon_s=settings.webhook_horizon_s,
        clock_skew_s=settings.webhook_skew_s,
        dedupe_ttl_s=settings.webhook_dedupe_s,
        # Outlives the invocation that claimed, so a live intake's claim never lapses mid-send.
        claim_lease_s=max(defaults.claim_lease_s, int(settings.timeout_s) + 30),
    )
    return WebhookIntake(
        verifier=build_signature_verifier(root),
        dedupe=DynamoDedupeStore(settings.sync_table, client_source=root.dynamodb),
        queue=SqsEventQueue(settings.webhook_queue_url, client_source=lambda: root.aws_client("sqs")),
        config=config,
        metrics=PowertoolsCounter(),
    )


def build_inbound_processor(root: Infrastructure) -> InboundProcessor:
    from rankr_ghl.aws.ledger_audit import DynamoLedgerAuditWriter
    from rankr_ghl.flows.connection_cache import CachedConnectionLookup
    from rankr_ghl.flows.inbound import InboundProcessor
    from rankr_ghl.ghl.records import GhlClientRecords
    from rankr_ghl.observability import PowertoolsCounter
    from rankr_ghl.rankr.records import RankrClientRecords
    from rankr_ghl.sync.mapping_resolver import MappingResolver

    state = root.sync_state()
    audit = root.audit_log()
    return InboundProcessor(
        ghl=GhlClientRecords(root.ghl_client),
        rankr=RankrClientRecords(root.rankr_client),
        # Active connections cached per container for 30 s (see connection_cache for what that delays).
        connections=CachedConnectionLookup(root.connection_store()),
        lifecycle=root.connection_lifecycle,  # built on first INSTALL/UNINSTALL (needs the app secret)
        mappings=state.mappings,
        ledger=state.ledger,
        tombstones=state.tombstones,
        audit=audit,
        mapping_resolver=MappingResolver(state.mapping_config),
        metrics=PowertoolsCounter(),
        lead_claims=state.lead_claims,
        mirror_reads=state.mirror_reads,
        ledger_audit=DynamoLedgerAuditWriter(state.ledger, audit),
    )


def build_webhook_worker(root: Infrastructure, processor: Callable[[], InboundProcessor]) -> InboundBatch:
    from rankr_ghl.flows.inbound.batch import InboundBatch
    from rankr_ghl.flows.inbound.sqs_visibility import SqsMessageVisibility
    from rankr_ghl.observability import PowertoolsCounter

    queue_url = root.settings.webhook_queue_url
    visibility = SqsMessageVisibility(queue_url, lambda: root.aws_client("sqs")) if queue_url else None
    return InboundBatch(processor, visibility=visibility, metrics=PowertoolsCounter())
