"""The operator scope's ops (operator_contract.py): connections, logs, mappings, reconciles and dead
letters across accounts. They run only after the service saw the `ops` alias (scope.py).

`rankrAccountId` filters: a connection outside it answers like a missing one (`not_found`). An
operator's connection view is the whole record (it never holds a token), in the contract's camelCase.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

from rankr_ghl.connections.status import ConnectionStatus, PauseReason
from rankr_ghl.flows.control.contract import ControlError
from rankr_ghl.flows.control.dlq_ops import DeadLetters, dlq_replay, dlq_summary
from rankr_ghl.flows.control.mapping_ops import (
    DeletableMappingDocuments,
    delete_mapping,
    get_mapping,
    put_mapping,
)
from rankr_ghl.flows.control.operator_contract import (
    OpsConnectionGetRequest,
    OpsConnectionPauseRequest,
    OpsConnectionResumeRequest,
    OpsConnectionsListRequest,
    OpsDlqReplayRequest,
    OpsDlqSummaryRequest,
    OpsLogsQueryRequest,
    OpsMappingDeleteRequest,
    OpsMappingGetRequest,
    OpsMappingPutRequest,
    OpsReconcileStartRequest,
    OpsReconcileStatusRequest,
    OpsTestTransferRequest,
)
from rankr_ghl.flows.control.reconcile_ops import reconcile_status, start_reconcile
from rankr_ghl.flows.control.records import (
    TransferPreviewer,
    TransferRunner,
    query_logs,
    run_test_transfer,
)
from rankr_ghl.flows.reconcile.planner import JobQueue
from rankr_ghl.observability import logger
from rankr_ghl.sync.ports import AuditReader, CheckpointStore

NOT_FOUND = "no connection has that id (within rankrAccountId, when given)"


class OperatorConnections(Protocol):
    """What the operator ops need of the connections table."""

    def get(self, connection_id: str) -> Any: ...

    def list(self) -> Iterator[Any]: ...

    def list_by_company(self, company_id: str) -> Iterator[Any]: ...

    def list_by_rankr_account(self, rankr_account_id: str) -> Iterator[Any]: ...

    def set_status(self, connection_id: str, status: ConnectionStatus, reason: str | None = None) -> None: ...


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def operator_view(connection: Any) -> dict[str, Any]:
    """Every field of the record, `connection_id` as `connectionId`."""
    return {_camel(key): value for key, value in connection.public_view().items()}


class OperatorOps:
    def __init__(
        self,
        *,
        connections: Callable[[], OperatorConnections],
        audit: Callable[[], AuditReader],
        mappings: Callable[[], DeletableMappingDocuments],
        reconcile_queue: Callable[[], JobQueue],
        checkpoints: Callable[[], CheckpointStore],
        dead_letters: Callable[[], DeadLetters],
        transfer_preview: TransferPreviewer,
        transfer_runner: TransferRunner,
        details: Callable[[str], dict[str, Any]],
        replayed: Callable[[str, dict[str, int]], None],
    ) -> None:
        self._connections = connections
        self._audit = audit
        self._mappings = mappings
        self._reconcile_queue = reconcile_queue
        self._checkpoints = checkpoints
        self._dead_letters = dead_letters
        self._transfer_preview = transfer_preview
        self._transfer_runner = transfer_runner
        self._details = details  # connection.get's live parts of a location
        self._replayed = replayed  # (queue, replayed per location): the dead-letter counts follow

    def run(self, request: Any) -> dict[str, Any]:
        if isinstance(request, OpsConnectionsListRequest):
            return self._list(request)
        if isinstance(request, OpsConnectionGetRequest):
            connection = self._connection(request.connection_id, request.rankr_account_id)
            view = operator_view(connection)
            if connection.location_id:
                view.update(self._details(connection.location_id))
            return {"connection": view}
        if isinstance(request, OpsConnectionPauseRequest | OpsConnectionResumeRequest):
            return self._pause_or_resume(request)
        if isinstance(request, OpsLogsQueryRequest):
            self._within_filter(request.location_id, request.rankr_account_id)
            return query_logs(self._audit(), request)
        if isinstance(request, OpsTestTransferRequest):
            return self._test_transfer(request)
        if isinstance(request, OpsMappingGetRequest | OpsMappingPutRequest | OpsMappingDeleteRequest):
            if request.location_id is not None:
                self._within_filter(request.location_id, request.rankr_account_id)
            if isinstance(request, OpsMappingGetRequest):
                return get_mapping(self._mappings(), request)
            if isinstance(request, OpsMappingPutRequest):
                return put_mapping(self._mappings(), request)
            return delete_mapping(self._mappings(), request)
        if isinstance(request, OpsReconcileStartRequest):
            connection = self._connection(request.location_id, request.rankr_account_id)
            if connection.status is not ConnectionStatus.ACTIVE:
                raise ControlError(
                    "not_active", f"the connection is {connection.status.value}; nothing was queued"
                )
            return start_reconcile(self._reconcile_queue(), self._checkpoints(), request)
        if isinstance(request, OpsReconcileStatusRequest):
            self._within_filter(request.location_id, request.rankr_account_id)
            return reconcile_status(self._checkpoints(), request)
        if isinstance(request, OpsDlqSummaryRequest | OpsDlqReplayRequest):
            return self._dead_letter_op(request)
        raise ControlError("unknown_op", "unknown op; see docs/control-api.md for the ops")

    def _connection(self, connection_id: str, account: str | None) -> Any:
        connection = self._connections().get(connection_id)
        if connection is None or (account is not None and connection.rankr_account_id != account):
            raise ControlError("not_found", NOT_FOUND)
        return connection

    def _test_transfer(self, request: OpsTestTransferRequest) -> dict[str, Any]:
        connection = self._connection(request.location_id, request.rankr_account_id)
        if not connection.rankr_account_id:
            raise ControlError("invalid_state", "the connection is not linked to a Rankr account")
        if request.apply and connection.status is not ConnectionStatus.ACTIVE:
            raise ControlError(
                "not_active", f"the connection is {connection.status.value}; nothing was written"
            )
        account = str(connection.rankr_account_id)
        return {
            "rankrAccountId": account,
            **run_test_transfer(self._transfer_preview, self._transfer_runner, request, account),
        }

    def _within_filter(self, location_id: str, account: str | None) -> None:
        """A location's audit log, mapping, reconcile status and dead letters outlive its connection
        record: an operator reads them by id, unless an account filter asks for its own."""
        if account is not None:
            self._connection(location_id, account)

    def _list(self, request: OpsConnectionsListRequest) -> dict[str, Any]:
        connections = self._connections()
        if request.company_id is not None:
            found = connections.list_by_company(request.company_id)
        elif request.rankr_account_id is not None:
            found = connections.list_by_rankr_account(request.rankr_account_id)
        else:
            found = connections.list()
        account = request.rankr_account_id
        rows = sorted(
            (c for c in found if account is None or c.rankr_account_id == account),
            key=lambda c: str(c.connection_id),
        )
        if request.cursor is not None:
            rows = [c for c in rows if c.connection_id > request.cursor]
        page = rows[: request.limit]
        more = len(rows) > request.limit
        return {
            "connections": [operator_view(c) for c in page],
            "nextCursor": page[-1].connection_id if more else None,
        }

    def _pause_or_resume(
        self, request: OpsConnectionPauseRequest | OpsConnectionResumeRequest
    ) -> dict[str, Any]:
        connection = self._connection(request.connection_id, request.rankr_account_id)
        pausing = isinstance(request, OpsConnectionPauseRequest)
        needed = ConnectionStatus.ACTIVE if pausing else ConnectionStatus.PAUSED
        if connection.status is not needed:
            verb = "paused" if pausing else "resumed"
            raise ControlError(
                "invalid_state",
                f"only a {needed.value} connection can be {verb} (it is {connection.status.value})",
            )
        connections = self._connections()
        if pausing:
            connections.set_status(
                connection.connection_id, ConnectionStatus.PAUSED, PauseReason.OPERATOR.value
            )
        else:
            connections.set_status(connection.connection_id, ConnectionStatus.ACTIVE, None)
        logger.info(
            "connection paused" if pausing else "connection resumed",
            extra={
                "audit": request.op,
                "connection_id": connection.connection_id,
                "reason": request.reason,
            },
        )
        return {"connection": operator_view(connections.get(connection.connection_id))}

    def _dead_letter_op(self, request: OpsDlqSummaryRequest | OpsDlqReplayRequest) -> dict[str, Any]:
        if request.location_id is not None:
            self._within_filter(request.location_id, request.rankr_account_id)
        account = request.rankr_account_id
        locations: set[str] = set()
        if account is not None:
            owned = self._connections().list_by_rankr_account(account)
            locations = {c.location_id or c.connection_id for c in owned}
        if isinstance(request, OpsDlqSummaryRequest):
            return dlq_summary(self._dead_letters(), request, locations, shown=request.max)
        result = dlq_replay(self._dead_letters(), request, locations)
        self._replayed(request.queue, result["byLocation"])
        return result
