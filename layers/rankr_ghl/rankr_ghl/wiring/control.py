"""ControlFunction's service: the control API over the connections table and the install links."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rankr_ghl.flows.control.service import ControlService
    from rankr_ghl.wiring.infrastructure import Infrastructure


def build_control(root: Infrastructure) -> ControlService:
    from rankr_ghl.aws.audit import DynamoAuditLog
    from rankr_ghl.aws.install_claims import DynamoClaimCodeStore
    from rankr_ghl.flows.control.service import ControlService
    from rankr_ghl.wiring.oauth import build_install_links

    settings = root.settings

    def transfer_preview(location_id: str, account_id: str, contact_id: str) -> dict[str, Any]:
        # Built on the first test transfer: the other ops never load the sync machinery.
        from rankr_ghl.flows.reconcile.transfer_preview import preview_transfer
        from rankr_ghl.ghl.records import GhlClientRecords
        from rankr_ghl.rankr.records import RankrClientRecords
        from rankr_ghl.sync.mapping_resolver import MappingResolver

        table = root.sync_state()
        return preview_transfer(
            ghl=GhlClientRecords(root.ghl_client),
            rankr=RankrClientRecords(root.rankr_client),
            mappings=table.mappings,
            ledger=table.ledger,
            mapping_resolver=MappingResolver(table.mapping_config),
            location_id=location_id,
            account_id=account_id,
            contact_id=contact_id,
        ).to_dict()

    return ControlService(
        links=lambda: build_install_links(root),
        connections=root.connection_store,
        claims=lambda: DynamoClaimCodeStore(settings.sync_table, client_source=root.dynamodb),
        audit=lambda: DynamoAuditLog(
            settings.audit_table, client=root.dynamodb(), retention_days=settings.audit_retention_days
        ),
        transfer_preview=transfer_preview,
        mappings=lambda: root.sync_state().mapping_config,
    )
