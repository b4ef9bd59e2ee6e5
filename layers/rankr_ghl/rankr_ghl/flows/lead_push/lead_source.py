"""The lead as Rankr holds it now, read through the Rankr records port (`LeadSource`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rankr_ghl.flows.lead_push.lead import Lead
from rankr_ghl.flows.lead_push.results import ErrorCode, LeadPushFailure
from rankr_ghl.ports import ConnectionLookup, RankrRecords
from rankr_ghl.rankr.errors import RankrError
from rankr_ghl.sync.types import Entity


class RankrLeadSource:
    """A lead is a Rankr contact (`leadId` is its id) of the lead's account: the one it names, else
    the one its location is connected to."""

    def __init__(self, rankr: RankrRecords, connections: ConnectionLookup) -> None:
        self._rankr = rankr
        self._connections = connections

    def current(self, location_id: str, lead: Lead) -> Mapping[str, Any] | None:
        account = lead.rankrAccountId
        if account is None:
            connection = self._connections.get(location_id)
            account = connection.rankr_account_id if connection is not None else None
        if account is None:
            return None
        try:
            return self._rankr.get(account, Entity.CONTACT, lead.leadId, None)
        except RankrError as exc:
            raise LeadPushFailure(
                ErrorCode.RANKR_UNAVAILABLE,
                f"the lead's current state could not be read from Rankr ({type(exc).__name__}); retry",
                retryable=True,
            ) from exc
