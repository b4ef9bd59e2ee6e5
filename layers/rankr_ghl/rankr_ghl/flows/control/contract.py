"""The control API's contract: one pydantic model (and so one JSON Schema) per op, and its errors.

Requests are `{"op": <name>, "rankrAccountId": <id>, ...}`; answers are `{"ok": true, "result": ...}`
or `{"ok": false, "error": {"code", "message", "retryable"}}`. docs/control-api.md is generated from
these models (`schemas.contract_document`), so the document and the code cannot drift apart.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

CONTRACT_VERSION = "1.1"
MAX_REQUEST_BYTES = 64 * 1024

# Ids are opaque to us, but never free text: letters, digits and a few separators.
Id = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:@-]+$")]


class ControlError(Exception):
    """A per-op error: a stable code, a message for people, and whether a retry may succeed."""

    def __init__(self, code: str, message: str, *, retryable: bool = False) -> None:
        self.code = code
        self.message = message
        self.retryable = retryable
        super().__init__(message)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "retryable": self.retryable}


class _Request(BaseModel):
    # `defer_build`: each op's validator is built on its first request, not at import, so a cold
    # start builds the one op it serves rather than all of them.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)

    rankr_account_id: Id = Field(alias="rankrAccountId")


class InstallLinkRequest(_Request):
    op: Literal["install_link"]
    target: Literal["location", "agency"] = "location"
    return_url: Annotated[str, StringConstraints(max_length=1024)] | None = Field(
        default=None, alias="returnUrl"
    )


class ConnectionsListRequest(_Request):
    op: Literal["connections.list"]


class ConnectionGetRequest(_Request):
    op: Literal["connection.get"]
    location_id: Id = Field(alias="locationId")


class ConnectionLinkRequest(_Request):
    op: Literal["connection.link"]
    location_id: Id = Field(alias="locationId")
    force: bool = False
    reason: Annotated[str, StringConstraints(max_length=256)] | None = None


class ConnectionClaimRequest(_Request):
    op: Literal["connection.claim"]
    code: Annotated[str, StringConstraints(min_length=6, max_length=16, pattern=r"^[A-Za-z0-9-]+$")]


class ConnectionDisconnectRequest(_Request):
    op: Literal["connection.disconnect"]
    location_id: Id = Field(alias="locationId")


class LogsQueryFields(BaseModel):
    """A page of one location's audit log (`logs.query`, and `ops.logs.query` of the operator scope)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)

    location_id: Id = Field(alias="locationId")
    entity: Literal["contact", "task", "note", "appointment"] | None = None
    record_id: Id | None = Field(default=None, alias="recordId")
    since: Annotated[str, StringConstraints(max_length=40)] | None = None
    until: Annotated[str, StringConstraints(max_length=40)] | None = None
    limit: Annotated[int, Field(ge=1, le=200)] = 50
    cursor: Annotated[str, StringConstraints(max_length=40)] | None = None


class LogsQueryRequest(_Request, LogsQueryFields):
    op: Literal["logs.query"]


class TestTransferFields(BaseModel):
    """One contact in either direction: `ghl_to_rankr` names `ghlContactId`, `rankr_to_ghl` names
    `rankrContactId`. Without `apply` a dry run that writes nothing; with it, that record is synced
    and each write reported."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)

    location_id: Id = Field(alias="locationId")
    direction: Literal["ghl_to_rankr", "rankr_to_ghl"] = "ghl_to_rankr"
    ghl_contact_id: Id | None = Field(default=None, alias="ghlContactId")
    rankr_contact_id: Id | None = Field(default=None, alias="rankrContactId")
    apply: bool = False

    @model_validator(mode="after")
    def _names_the_record_of_its_direction(self) -> TestTransferFields:
        if self.direction == "ghl_to_rankr" and self.ghl_contact_id is None:
            raise ValueError("ghl_to_rankr needs ghlContactId")
        if self.direction == "rankr_to_ghl" and self.rankr_contact_id is None:
            raise ValueError("rankr_to_ghl needs rankrContactId")
        return self

    @property
    def record_id(self) -> str:
        found = self.ghl_contact_id if self.direction == "ghl_to_rankr" else self.rankr_contact_id
        assert found is not None  # the validator above
        return found


class TestTransferRequest(_Request, TestTransferFields):
    __doc__ = TestTransferFields.__doc__

    op: Literal["test_transfer"]


class MappingGetRequest(_Request):
    """Without `locationId`: the account's own mapping."""

    op: Literal["mapping.get"]
    location_id: Id | None = Field(default=None, alias="locationId")


class MappingValidateRequest(_Request):
    op: Literal["mapping.validate"]
    document: dict[str, Any]


class MappingPutRequest(_Request):
    op: Literal["mapping.put"]
    location_id: Id | None = Field(default=None, alias="locationId")
    document: dict[str, Any]


class ReconcileStartRequest(_Request):
    """Queue a reconcile of one location for the reconcile worker; `reconcile.status` follows it."""

    op: Literal["reconcile.start"]
    location_id: Id = Field(alias="locationId")
    mode: Literal["incremental", "full"] = "incremental"
    dry_run: bool = Field(default=False, alias="dryRun")


class ReconcileStatusRequest(_Request):
    """Without `runId`: the run last started through the control API."""

    op: Literal["reconcile.status"]
    location_id: Id = Field(alias="locationId")
    run_id: Id | None = Field(default=None, alias="runId")


class DlqSummaryRequest(_Request):
    """The account's dead-lettered messages per queue (ids, location, type, age; never bodies)."""

    op: Literal["dlq.summary"]
    location_id: Id | None = Field(default=None, alias="locationId")


class DlqReplayRequest(_Request):
    """Send one location's dead-lettered messages back to their source queue (all, or `messageIds`);
    lead-push failure records are invoked again. `locationId` is required but for `lead-push`, whose
    leads may name only the account."""

    op: Literal["dlq.replay"]
    location_id: Id | None = Field(default=None, alias="locationId")
    queue: Literal["webhooks", "reconcile", "lead-push"]
    message_ids: Annotated[list[Id], Field(max_length=100)] | None = Field(default=None, alias="messageIds")
    max: Annotated[int, Field(ge=1, le=100)] = 100

    @model_validator(mode="after")
    def _names_a_location_for_queues(self) -> DlqReplayRequest:
        if self.location_id is None and self.queue != "lead-push":
            raise ValueError(f"{self.queue} replays need locationId")
        return self


OPS: dict[str, type[_Request]] = {
    "install_link": InstallLinkRequest,
    "connections.list": ConnectionsListRequest,
    "connection.get": ConnectionGetRequest,
    "connection.link": ConnectionLinkRequest,
    "connection.claim": ConnectionClaimRequest,
    "connection.disconnect": ConnectionDisconnectRequest,
    "logs.query": LogsQueryRequest,
    "test_transfer": TestTransferRequest,
    "mapping.get": MappingGetRequest,
    "mapping.validate": MappingValidateRequest,
    "mapping.put": MappingPutRequest,
    "reconcile.start": ReconcileStartRequest,
    "reconcile.status": ReconcileStatusRequest,
    "dlq.summary": DlqSummaryRequest,
    "dlq.replay": DlqReplayRequest,
}

ERROR_CODES: dict[str, str] = {
    "invalid_request": "The request is not JSON, too large, or does not match the op's schema.",
    "unknown_op": "No such op in this contract version.",
    "not_found": "No connection of this account has that id (also for another account's location).",
    "conflict": "The location is bound to another account; only connection.link with force moves it.",
    "not_active": "The connection is paused, needs re-authorisation or is uninstalled; nothing was written.",
    "invalid_claim_code": "The claim code is unknown, expired or used.",
    "invalid_mapping": "The mapping document does not validate; nothing was stored.",
    "return_url_not_allowed": "returnUrl is not on the connector's allow-list.",
    "not_replayable": "No replay target is configured for that queue.",
    "unavailable": "A dependency failed; the same request may succeed later.",
    "forbidden": "The op needs the operator scope (alias `ops`); nothing was read or written.",
    "invalid_state": "The connection is not in the state the op needs (e.g. pausing a paused one).",
}
