"""ControlFunction's service: the control API over the connections table and the install links."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rankr_ghl.flows.control.service import ControlService
    from rankr_ghl.wiring.infrastructure import Infrastructure


def build_control(root: Infrastructure) -> ControlService:
    from rankr_ghl.aws.install_claims import DynamoClaimCodeStore
    from rankr_ghl.flows.control.service import ControlService
    from rankr_ghl.wiring.oauth import build_install_links

    settings = root.settings
    return ControlService(
        links=lambda: build_install_links(root),
        connections=root.connection_store,
        claims=lambda: DynamoClaimCodeStore(settings.sync_table, client_source=root.dynamodb),
    )
