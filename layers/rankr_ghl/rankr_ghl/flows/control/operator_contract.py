"""The operator scope's ops: one pydantic model (and so one JSON Schema) per op.

Operator ops are named `ops.<...>` and answered only through ControlFunction's `ops` alias
(flows.control.scope); through `live`, or unqualified, they are refused with `forbidden` before the
request is even read. They act across accounts: `rankrAccountId` is an optional filter, and a
connection outside it answers exactly like one that does not exist (`not_found`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from rankr_ghl.flows.control.contract import Id, LogsQueryFields, TestTransferFields

Reason = Annotated[str, StringConstraints(max_length=256)]


class _OperatorRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)

    # A filter: given, the op sees only that account's connections.
    rankr_account_id: Id | None = Field(default=None, alias="rankrAccountId")


class OpsConnectionsListRequest(_OperatorRequest):
    """Every connection (or an agency's: `companyId`), ordered by `connectionId`, a page at a time:
    `nextCursor` (the page's last `connectionId`) asks for the next page."""

    op: Literal["ops.connections.list"]
    company_id: Id | None = Field(default=None, alias="companyId")
    limit: Annotated[int, Field(ge=1, le=1000)] = 500
    cursor: Id | None = None


class _OneConnection(_OperatorRequest):
    # A location id, or `company:<companyId>` for an agency's connection.
    connection_id: Id = Field(alias="connectionId")


class OpsConnectionGetRequest(_OneConnection):
    op: Literal["ops.connection.get"]


class OpsConnectionPauseRequest(_OneConnection):
    """Stop automatic sync of an active connection (webhooks acknowledged and counted, no reconcile)."""

    op: Literal["ops.connection.pause"]
    reason: Reason | None = None


class OpsConnectionResumeRequest(_OneConnection):
    """Resume a paused connection; its next reconcile catches up."""

    op: Literal["ops.connection.resume"]
    reason: Reason | None = None


class OpsLogsQueryRequest(_OperatorRequest, LogsQueryFields):
    op: Literal["ops.logs.query"]


class OpsTestTransferRequest(_OperatorRequest, TestTransferFields):
    """`test_transfer` of any location linked to an account: the account is the connection's."""

    op: Literal["ops.test_transfer"]


class _MappingTarget(_OperatorRequest):
    """A location's own mapping (`locationId`), else an account's (`rankrAccountId`)."""

    location_id: Id | None = Field(default=None, alias="locationId")

    @model_validator(mode="after")
    def _names_a_location_or_an_account(self) -> _MappingTarget:
        if self.location_id is None and self.rankr_account_id is None:
            raise ValueError("a mapping op needs locationId or rankrAccountId")
        return self


class OpsMappingGetRequest(_MappingTarget):
    op: Literal["ops.mapping.get"]


class OpsMappingPutRequest(_MappingTarget):
    op: Literal["ops.mapping.put"]
    document: dict[str, Any]


class OpsMappingDeleteRequest(_MappingTarget):
    """Remove a location's (or account's) own mapping: the account's (or the default) applies again."""

    op: Literal["ops.mapping.delete"]


class OpsReconcileStartRequest(_OperatorRequest):
    """Queue a reconcile of one location; `notes` compares every mapped contact's notes."""

    op: Literal["ops.reconcile.start"]
    location_id: Id = Field(alias="locationId")
    mode: Literal["incremental", "full", "notes"] = "incremental"
    dry_run: bool = Field(default=False, alias="dryRun")


class OpsReconcileStatusRequest(_OperatorRequest):
    op: Literal["ops.reconcile.status"]
    location_id: Id = Field(alias="locationId")
    run_id: Id | None = Field(default=None, alias="runId")


class OpsDlqSummaryRequest(_OperatorRequest):
    """Dead-lettered messages per queue, of every account (ids, location, type, age; never bodies)."""

    op: Literal["ops.dlq.summary"]
    location_id: Id | None = Field(default=None, alias="locationId")
    # Messages shown per queue (`sample`); the counts cover every message looked at.
    max: Annotated[int, Field(ge=1, le=500)] = 50


class OpsDlqReplayRequest(_OperatorRequest):
    """Send dead-lettered messages back to their source queue (all, one location's, or `messageIds`);
    lead-push failure records are invoked again."""

    op: Literal["ops.dlq.replay"]
    location_id: Id | None = Field(default=None, alias="locationId")
    queue: Literal["webhooks", "reconcile", "lead-push"]
    message_ids: Annotated[list[Id], Field(max_length=100)] | None = Field(default=None, alias="messageIds")
    max: Annotated[int, Field(ge=1, le=100)] = 100


OPERATOR_OPS: dict[str, type[_OperatorRequest]] = {
    "ops.connections.list": OpsConnectionsListRequest,
    "ops.connection.get": OpsConnectionGetRequest,
    "ops.connection.pause": OpsConnectionPauseRequest,
    "ops.connection.resume": OpsConnectionResumeRequest,
    "ops.logs.query": OpsLogsQueryRequest,
    "ops.test_transfer": OpsTestTransferRequest,
    "ops.mapping.get": OpsMappingGetRequest,
    "ops.mapping.put": OpsMappingPutRequest,
    "ops.mapping.delete": OpsMappingDeleteRequest,
    "ops.reconcile.start": OpsReconcileStartRequest,
    "ops.reconcile.status": OpsReconcileStatusRequest,
    "ops.dlq.summary": OpsDlqSummaryRequest,
    "ops.dlq.replay": OpsDlqReplayRequest,
}
