"""The control API's record ops: the audit log of a location (`logs.query`) and a one-record dry run
(`test_transfer`). Both run only after the service checked that the location is the caller's."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from rankr_ghl.flows.control.contract import ControlError, LogsQueryFields, TestTransferFields
from rankr_ghl.sync.ports import AuditEntry, AuditReader
from rankr_ghl.sync.types import Entity

# (location, account, GHL contact id) -> the preview as a dict; reads only.
TransferPreviewer = Callable[[str, str, str], dict[str, Any]]
# (location, account, direction, record id, apply) -> the step's report and its writes
# (flows.control.transfers.transfer_one over the reconcile's services).
TransferRunner = Callable[[str, str, str, str, bool], dict[str, Any]]


def _entry(e: AuditEntry) -> dict[str, Any]:
    """Field names and ids only: audit entries never hold values."""
    return {
        "entryId": e.entry_id,
        "at": e.at.isoformat(),
        "entity": e.entity.value,
        "action": e.action.value,
        "outcome": e.outcome.value,
        "direction": e.direction,
        "ghlId": e.ghl_id,
        "rankrId": e.rankr_id,
        "fields": list(e.fields),
        "reason": e.reason,
        "error": e.error,
        "flow": e.flow,
        "correlationId": e.correlation_id,
    }


def _time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ControlError("invalid_request", f"invalid fields: {name}") from None
    if parsed.tzinfo is None:
        raise ControlError("invalid_request", f"invalid fields: {name} (needs a UTC offset)")
    return parsed


def query_logs(audit: AuditReader, request: LogsQueryFields) -> dict[str, Any]:
    """Newest first, `limit` per page; `nextCursor` (the oldest time shown) asks for the next page."""
    until = _time(request.cursor, "cursor") or _time(request.until, "until")
    since = _time(request.since, "since")
    entity = Entity(request.entity) if request.entity else None
    # One more than a page: whether there is a next page, without a second query.
    found = audit.query_location(
        request.location_id, since=since, until=until, entity=entity, limit=request.limit + 1
    )
    if request.cursor is not None:
        # The cursor's own second was shown already (the range is inclusive).
        found = [e for e in found if e.at.isoformat() < request.cursor]
    if request.record_id is not None:
        found = [e for e in found if request.record_id in (e.ghl_id, e.rankr_id)]
    page = found[: request.limit]
    more = len(found) > request.limit
    return {"entries": [_entry(e) for e in page], "nextCursor": page[-1].at.isoformat() if more else None}


def run_test_transfer(
    previewer: TransferPreviewer, runner: TransferRunner, request: TestTransferFields, account: str
) -> dict[str, Any]:
    """A dry run of a GHL contact also shows the Rankr body the mapping produces (`preview`)."""
    location = request.location_id
    preview: dict[str, Any] | None = None
    if request.direction == "ghl_to_rankr" and not request.apply:
        preview = previewer(location, account, request.record_id)
        if not preview.get("found"):
            raise ControlError("not_found", "no GHL contact with that id in this location")
    result = runner(location, account, request.direction, request.record_id, request.apply)
    if preview is not None:
        result["preview"] = preview
    return result
