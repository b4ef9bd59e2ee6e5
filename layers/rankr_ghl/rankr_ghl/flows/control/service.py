"""The control API's service: parse one request, scope it to its Rankr account, run the op.

Every op names a `rankrAccountId`; a location of another account answers exactly like a location that
does not exist (`not_found`), so a caller learns nothing about other tenants. The operator ops
(operator_ops.py) run only when the invocation came through the `ops` alias (scope.py); anywhere else
they are refused (`forbidden`) before the request is read.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from pydantic import BaseModel, ValidationError

from rankr_ghl.connections.install_links import (
    ClaimCodeStore,
    InstallLinkIssuer,
    claim_code_hash,
)
from rankr_ghl.connections.status import ConnectionStatus, UserType
from rankr_ghl.flows.control.contract import (
    CONTRACT_VERSION,
    MAX_REQUEST_BYTES,
    OPS,
    ConnectionClaimRequest,
    ConnectionDisconnectRequest,
    ConnectionGetRequest,
    ConnectionLinkRequest,
    ConnectionsListRequest,
    ControlError,
    DlqReplayRequest,
    DlqSummaryRequest,
    InstallLinkRequest,
    LogsQueryRequest,
    MappingGetRequest,
    MappingPutRequest,
    MappingValidateRequest,
    ReconcileStartRequest,
    ReconcileStatusRequest,
    TestTransferRequest,
)
from rankr_ghl.flows.control.dead_letter_sweep import is_sweep
from rankr_ghl.flows.control.scope import Scope, is_operator_op, scope_of
from rankr_ghl.observability import logger

if TYPE_CHECKING:
    from rankr_ghl.flows.control.connection_details import Backlog, BudgetSnapshot
    from rankr_ghl.flows.control.dead_letter_sweep import DeadLetterCounts
    from rankr_ghl.flows.control.dlq_ops import DeadLetters
    from rankr_ghl.flows.control.mapping_ops import DeletableMappingDocuments
    from rankr_ghl.flows.control.operator_ops import OperatorOps
    from rankr_ghl.flows.control.records import TransferPreviewer, TransferRunner
    from rankr_ghl.flows.reconcile.planner import JobQueue
    from rankr_ghl.sync.ports import AuditReader, CheckpointStore

# Each op's module (and what it imports: the reconcile planner, the mapping compiler, the operator
# contract's models...) loads with the op's first request, so a cold start loads the one op it serves.


class ConnectionView(Protocol):
    connection_id: str
    location_id: str | None
    company_id: str | None
    rankr_account_id: str | None

    def public_view(self) -> dict[str, Any]: ...


class ControlConnections(Protocol):
    """What the control API needs of the connections table."""

    def get(self, connection_id: str) -> Any: ...

    def list_by_rankr_account(self, rankr_account_id: str) -> Iterator[Any]: ...

    def list(self) -> Iterator[Any]: ...

    def list_by_company(self, company_id: str) -> Iterator[Any]: ...

    def link_rankr_account(self, connection_id: str, rankr_account_id: str) -> None: ...

    def set_status(self, connection_id: str, status: ConnectionStatus, reason: str | None = None) -> None: ...


def _view(connection: Any) -> dict[str, Any]:
    data = connection.public_view()
    view = {
        "locationId": data.get("location_id"),
        "companyId": data.get("company_id"),
        "connectionId": data.get("connection_id"),
        "userType": data.get("user_type"),
        "status": data.get("status"),
        "statusReason": data.get("status_reason"),
        "scopes": list(data.get("scopes") or []),
        "installedAt": data.get("installed_at"),
        "lastTokenRefreshAt": data.get("last_refresh_at"),
        "updatedAt": data.get("updated_at"),
    }
    if data.get("agency_install") is not None:  # an agency's install progress (agency_job.py)
        view["agencyInstall"] = data["agency_install"]
    return view


class ControlService:
    def __init__(
        self,
        *,
        links: Callable[[], InstallLinkIssuer],
        connections: Callable[[], ControlConnections],
        claims: Callable[[], ClaimCodeStore],
        audit: Callable[[], AuditReader],
        transfer_preview: TransferPreviewer,
        transfer_runner: TransferRunner,
        mappings: Callable[[], DeletableMappingDocuments],
        reconcile_queue: Callable[[], JobQueue],
        checkpoints: Callable[[], CheckpointStore],
        dead_letters: Callable[[], DeadLetters],
        dead_letter_counts: Callable[[], DeadLetterCounts],
        sweep_budget_s: float,
        backlog: Callable[[], Backlog],
        rate_budget: Callable[[str], BudgetSnapshot],
    ) -> None:
        self._dead_letter_counts = dead_letter_counts
        self._sweep_budget_s = sweep_budget_s
        self._reconcile_queue = reconcile_queue
        self._checkpoints = checkpoints
        self._dead_letters = dead_letters
        self._backlog = backlog
        self._rate_budget = rate_budget
        self._mappings = mappings
        self._audit = audit
        self._transfer_preview = transfer_preview
        self._transfer_runner = transfer_runner
        self._links = links
        self._connections = connections
        self._claims = claims
        self._operator_ops: OperatorOps | None = None

    def _operator(self) -> OperatorOps:
        if self._operator_ops is None:
            from rankr_ghl.flows.control.operator_ops import OperatorOps

            self._operator_ops = OperatorOps(
                connections=self._connections,
                audit=self._audit,
                mappings=self._mappings,
                reconcile_queue=self._reconcile_queue,
                checkpoints=self._checkpoints,
                dead_letters=self._dead_letters,
                transfer_preview=self._transfer_preview,
                transfer_runner=self._transfer_runner,
                details=self._details,
                replayed=self._subtract_replayed,
            )
        return self._operator_ops

    def handle(self, event: Any, context: Any = None) -> dict[str, Any]:
        """One request; `context` is the Lambda context, whose invoked alias is the scope (none:
        the account scope)."""
        if is_sweep(event):  # the DeadLetterCount schedule, not an op of the contract
            return self._sweep()
        scope = scope_of(context)
        try:
            request = self._parse(event, scope)
            if is_operator_op(request.op):
                logger.info("operator op", extra={"op": request.op})  # the name only, never the request
                result = self._operator().run(request)
            else:
                result = self._run(request)
        except ControlError as exc:
            logger.info("control op refused", extra={"code": exc.code})
            return {"ok": False, "version": CONTRACT_VERSION, "error": exc.as_dict()}
        return {"ok": True, "version": CONTRACT_VERSION, "result": result}

    def _sweep(self) -> dict[str, Any]:
        from rankr_ghl.flows.control.dead_letter_sweep import sweep_dead_letters

        result = sweep_dead_letters(self._dead_letters(), self._dead_letter_counts(), self._sweep_budget_s)
        logger.info(
            "dead letters counted", extra={"queues": result["queues"], "locations": result["locations"]}
        )
        return {"ok": True, "version": CONTRACT_VERSION, "result": result}

    # ------------------------------------------------------------------------------- parsing
    @staticmethod
    def _parse(event: Any, scope: Scope) -> Any:
        if isinstance(event, str | bytes):
            if len(event) > MAX_REQUEST_BYTES:
                raise ControlError("invalid_request", "the request is larger than 64 KiB")
            try:
                event = json.loads(event)
            except ValueError:
                raise ControlError("invalid_request", "the request is not JSON") from None
        if not isinstance(event, dict):
            raise ControlError("invalid_request", "the request must be a JSON object")
        if len(json.dumps(event, default=str)) > MAX_REQUEST_BYTES:
            raise ControlError("invalid_request", "the request is larger than 64 KiB")
        op = event.get("op")
        if is_operator_op(op) and scope is not Scope.OPERATOR:
            raise ControlError("forbidden", "this op needs the operator scope (alias ops); nothing was done")
        model: type[BaseModel] | None = None
        if isinstance(op, str) and is_operator_op(op):
            from rankr_ghl.flows.control.operator_contract import OPERATOR_OPS

            model = OPERATOR_OPS.get(op)
        elif isinstance(op, str):
            model = OPS.get(op)
        if model is None:
            raise ControlError("unknown_op", "unknown op; see docs/control-api.md for the ops")
        try:
            return model.model_validate(event)
        except ValidationError as exc:
            # Field locations only: the offending values never come back (they may be hostile).
            fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors() if e["loc"]})
            # A rule across fields has no location; its message is ours and names no value.
            rules = sorted({str(e["msg"]) for e in exc.errors() if not e["loc"]})
            parts = ([f"invalid fields: {', '.join(fields)}"] if fields else []) + rules
            raise ControlError("invalid_request", "; ".join(parts)) from None

    # ----------------------------------------------------------------------------------- ops
    def _run(self, request: Any) -> dict[str, Any]:
        if isinstance(request, InstallLinkRequest):
            return self._install_link(request)
        if isinstance(request, ConnectionsListRequest):
            owned = self._connections().list_by_rankr_account(request.rankr_account_id)
            return {"connections": [_view(c) for c in owned]}
        if isinstance(request, ConnectionGetRequest):
            return self._connection_get(request)
        if isinstance(request, ConnectionLinkRequest):
            return self._link(request)
        if isinstance(request, ConnectionClaimRequest):
            return self._claim(request)
        if isinstance(request, ConnectionDisconnectRequest):
            owned = self._owned(request.rankr_account_id, request.location_id)
            self._connections().set_status(owned.connection_id, ConnectionStatus.UNINSTALLED, "rankr")
            return {"connection": _view(self._connections().get(owned.connection_id))}
        if isinstance(request, LogsQueryRequest):
            from rankr_ghl.flows.control.records import query_logs

            self._owned(request.rankr_account_id, request.location_id)
            return query_logs(self._audit(), request)
        if isinstance(request, TestTransferRequest):
            from rankr_ghl.flows.control.records import run_test_transfer

            owned = self._owned(request.rankr_account_id, request.location_id)
            if request.apply:
                self._active(owned)
            return run_test_transfer(
                self._transfer_preview, self._transfer_runner, request, request.rankr_account_id
            )
        if isinstance(request, MappingValidateRequest):
            from rankr_ghl.flows.control.mapping_ops import validate_mapping

            return validate_mapping(request)
        if isinstance(request, MappingGetRequest | MappingPutRequest):
            from rankr_ghl.flows.control.mapping_ops import get_mapping, put_mapping

            if request.location_id is not None:
                self._owned(request.rankr_account_id, request.location_id)
            if isinstance(request, MappingGetRequest):
                return get_mapping(self._mappings(), request)
            return put_mapping(self._mappings(), request)
        return self._run_operations(request)

    def _run_operations(self, request: Any) -> dict[str, Any]:
        """Reconcile and dead-letter ops."""
        from rankr_ghl.flows.control.dlq_ops import dlq_replay, dlq_summary
        from rankr_ghl.flows.control.reconcile_ops import reconcile_status, start_reconcile

        if isinstance(request, ReconcileStartRequest):
            self._active(self._owned(request.rankr_account_id, request.location_id))
            return start_reconcile(self._reconcile_queue(), self._checkpoints(), request)
        if isinstance(request, ReconcileStatusRequest):
            self._owned(request.rankr_account_id, request.location_id)
            return reconcile_status(self._checkpoints(), request)
        if isinstance(request, DlqSummaryRequest):
            if request.location_id is not None:
                self._owned(request.rankr_account_id, request.location_id)
            return dlq_summary(self._dead_letters(), request, self._locations(request.rankr_account_id))
        if isinstance(request, DlqReplayRequest):
            if request.location_id is not None:
                self._owned(request.rankr_account_id, request.location_id)
            result = dlq_replay(self._dead_letters(), request, self._locations(request.rankr_account_id))
            self._subtract_replayed(request.queue, result["byLocation"])
            return result
        raise ControlError("unknown_op", "unknown op; see docs/control-api.md for the ops")

    def _subtract_replayed(self, queue: str, by_location: dict[str, int]) -> None:
        counts = self._dead_letter_counts()
        for location, replayed in by_location.items():
            if location == "-":
                continue
            try:
                counts.subtract(location, queue, replayed)
            except Exception as exc:  # the replay happened; the next sweep recounts
                logger.warning("dead-letter count not updated", extra={"error": type(exc).__name__})

    def _locations(self, account: str) -> set[str]:
        owned = self._connections().list_by_rankr_account(account)
        return {c.location_id or c.connection_id for c in owned}

    def _connection_get(self, request: ConnectionGetRequest) -> dict[str, Any]:
        connection = self._owned(request.rankr_account_id, request.location_id)
        return {"connection": {**_view(connection), **self._details(request.location_id)}}

    def _details(self, location_id: str) -> dict[str, Any]:
        from rankr_ghl.flows.control.connection_details import connection_details

        return connection_details(
            location_id=location_id,
            audit=self._audit,
            checkpoints=self._checkpoints,
            dead_letter_counts=self._dead_letter_counts,
            backlog=self._backlog,
            budget=self._rate_budget,
        )

    def _owned(self, account: str, location_id: str) -> Any:
        connection = self._connections().get(location_id)
        if connection is None or connection.rankr_account_id != account:
            raise ControlError("not_found", "no connection of this account has that locationId")
        return connection

    @staticmethod
    def _active(connection: Any) -> None:
        if connection.status is not ConnectionStatus.ACTIVE:
            raise ControlError(
                "not_active", f"the connection is {connection.status.value}; nothing was written"
            )

    def _install_link(self, request: InstallLinkRequest) -> dict[str, Any]:
        links = self._links()
        user_type = UserType.COMPANY if request.target == "agency" else UserType.LOCATION
        if request.return_url is not None and not links.return_urls.allows(request.return_url):
            raise ControlError("return_url_not_allowed", "returnUrl is not on the allow-list")
        url, expires_at = links.mint(request.rankr_account_id, user_type, request.return_url)
        return {"url": url, "expiresAt": expires_at, "singleUse": True}

    def _link(self, request: ConnectionLinkRequest) -> dict[str, Any]:
        connections = self._connections()
        connection = connections.get(request.location_id)
        if connection is None:
            raise ControlError("not_found", "no connection of this account has that locationId")
        current = connection.rankr_account_id
        if current and current != request.rankr_account_id and not request.force:
            # Same answer as for an unknown location unless the caller insists on moving it.
            raise ControlError("not_found", "no connection of this account has that locationId")
        if current != request.rankr_account_id:
            connections.link_rankr_account(connection.connection_id, request.rankr_account_id)
            logger.info(
                "connection linked",
                extra={
                    "audit": "connection.link",
                    "connection_id": connection.connection_id,
                    "from_account": current,
                    "to_account": request.rankr_account_id,
                    "forced": bool(current),
                    "reason": request.reason,
                },
            )
        return {"connection": _view(connections.get(connection.connection_id)), "moved": bool(current)}

    def _claim(self, request: ConnectionClaimRequest) -> dict[str, Any]:
        connection_ids = self._claims().take(claim_code_hash(request.code))
        if not connection_ids:
            raise ControlError("invalid_claim_code", "the claim code is unknown, expired or used")
        connections = self._connections()
        claimed: list[dict[str, Any]] = []
        for connection_id in connection_ids:
            connection = connections.get(connection_id)
            # Only unbound connections: a code never moves a location another account holds.
            if connection is None or connection.rankr_account_id:
                continue
            connections.link_rankr_account(connection_id, request.rankr_account_id)
            claimed.append(_view(connections.get(connection_id)))
        logger.info("install claimed", extra={"audit": "connection.claim", "connections": len(claimed)})
        return {"connections": claimed}
