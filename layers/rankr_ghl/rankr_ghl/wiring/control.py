"""ControlFunction's service: the control API over the connections table and the install links."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rankr_ghl.aws.dead_letters import SqsDeadLetters
    from rankr_ghl.flows.control.service import ControlService
    from rankr_ghl.flows.reconcile.planner import SqsJobQueue
    from rankr_ghl.ghl.budget_record import Snapshot
    from rankr_ghl.wiring.infrastructure import Infrastructure
    from rankr_ghl.wiring.reconcile import ReconcileContainer


def build_control(root: Infrastructure, reconcile: Callable[[], ReconcileContainer]) -> ControlService:
    from rankr_ghl.aws.audit import DynamoAuditLog
    from rankr_ghl.aws.dead_letter_counts import DynamoDeadLetterCounts
    from rankr_ghl.aws.install_claims import DynamoClaimCodeStore
    from rankr_ghl.flows.control.service import ControlService
    from rankr_ghl.wiring.oauth import build_install_links

    settings = root.settings

    # Test transfers run on the reconcile's own services, built on the first one: the other ops
    # never load the sync machinery.
    def transfer_preview(location_id: str, account_id: str, contact_id: str) -> dict[str, Any]:
        from rankr_ghl.flows.reconcile.transfer_preview import preview_transfer

        services = reconcile().reconciler
        return preview_transfer(
            ghl=services.ghl,
            rankr=services.rankr,
            mappings=services.mappings,
            ledger=services.ledger,
            mapping_resolver=services.mapping_resolver,
            location_id=location_id,
            account_id=account_id,
            contact_id=contact_id,
        ).to_dict()

    def transfer_runner(
        location_id: str, account_id: str, direction: str, record_id: str, apply: bool
    ) -> dict[str, Any]:
        from rankr_ghl.flows.control.transfers import transfer_one

        return transfer_one(
            reconcile().reconciler,
            location_id=location_id,
            account_id=account_id,
            direction="rankr_to_ghl" if direction == "rankr_to_ghl" else "ghl_to_rankr",
            record_id=record_id,
            apply=apply,
        )

    def dead_letters() -> SqsDeadLetters:
        from rankr_ghl.aws.dead_letters import DeadLetterQueue, SqsDeadLetters

        return SqsDeadLetters(
            {
                "webhooks": DeadLetterQueue(settings.webhook_dlq_url, settings.webhook_queue_url),
                "reconcile": DeadLetterQueue(settings.reconcile_dlq_url, settings.reconcile_queue_url),
                "lead-push": DeadLetterQueue(
                    settings.lead_push_failure_queue_url,
                    replay_function=settings.lead_push_async_alias_arn or None,
                ),
            },
            client=lambda: root.aws_client("sqs"),
            lambda_client=lambda: root.aws_client("lambda"),
        )

    def rate_budget(location_id: str) -> Snapshot:
        from rankr_ghl.aws.rate_budget import DynamoBudgetStore

        return DynamoBudgetStore(settings.sync_table, client_source=root.dynamodb).load(location_id)

    def reconcile_queue() -> SqsJobQueue:
        from rankr_ghl.flows.reconcile.planner import SqsJobQueue

        return SqsJobQueue(settings.reconcile_queue_url, client=root.aws_client("sqs"))

    return ControlService(
        links=lambda: build_install_links(root),
        connections=root.connection_store,
        claims=lambda: DynamoClaimCodeStore(settings.sync_table, client_source=root.dynamodb),
        audit=lambda: DynamoAuditLog(
            settings.audit_table, client=root.dynamodb(), retention_days=settings.audit_retention_days
        ),
        transfer_preview=transfer_preview,
        transfer_runner=transfer_runner,
        mappings=lambda: root.sync_state().mapping_config,
        reconcile_queue=reconcile_queue,
        checkpoints=lambda: root.sync_state().checkpoints,
        dead_letters=dead_letters,
        dead_letter_counts=lambda: DynamoDeadLetterCounts(settings.sync_table, client_source=root.dynamodb),
        # The sweep reads every DLQ; half the function's time leaves room to write the counts.
        sweep_budget_s=settings.timeout_s / 2,
        backlog=dead_letters,
        rate_budget=rate_budget,
    )
