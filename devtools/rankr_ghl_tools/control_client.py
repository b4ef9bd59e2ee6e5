"""The CLI's client of the control API: the same JSON requests Rankr sends, through the Lambda Invoke
API of ControlFunction.

Account-scoped commands invoke the `live` alias (Rankr's); the cross-account commands send operator
ops (`ops.*`) to the `ops` alias, which only the operators' principal may invoke (docs/control-api.md,
"Operator scope"). The function is `--control-function` or `CONTROL_FUNCTION`: the stack output
`ControlAliasArn` or `ControlOpsAliasArn`, or the bare function; the client puts the alias of the
command's scope on it. The endpoint is boto3's: `AWS_ENDPOINT_URL_LAMBDA` (or `--invoke-url`) points it
at the local runtime's Invoke API (`make run` prints it).

Without a function configured, the request goes to the control service in this process, over the
deployment's environment, as an invocation of the scope's alias: the handler ControlFunction runs,
with the same request and the same answer, for tests and for a shell that holds the deployment's
own AWS access rather than an invoke grant.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rankr_ghl.flows.control.scope import ACCOUNT_ALIAS, OPERATOR_ALIAS

CONTROL_FUNCTION_ENV = "CONTROL_FUNCTION"
IN_PROCESS_REGION = "us-east-1"


class ControlCallFailed(Exception):
    """The control API refused the request (its per-op error) or the function failed."""

    def __init__(self, code: str, message: str, *, retryable: bool = False) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--control-function",
        default=None,
        help=f"ControlFunction (name or ARN; the command's alias is put on it; default: "
        f"${CONTROL_FUNCTION_ENV}; none: in this process)",
    )
    parser.add_argument("--invoke-url", default=None, help="Lambda endpoint, e.g. the local runtime's")


def aliased(function: str, alias: str) -> str:
    """`function` (a name or ARN, with or without a qualifier) qualified with `alias`."""
    parts = function.split(":")
    # An ARN keeps its first 7 parts; a name is `name` or `name:qualifier`.
    base = ":".join(parts[:7]) if function.startswith("arn:") else parts[0]
    return f"{base}:{alias}"


def _lambda_transport(function: str, endpoint_url: str | None) -> Callable[[dict[str, Any]], dict[str, Any]]:
    import boto3

    client = boto3.client("lambda", endpoint_url=endpoint_url) if endpoint_url else boto3.client("lambda")

    def send(request: dict[str, Any]) -> dict[str, Any]:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            response = client.invoke(FunctionName=function, Payload=json.dumps(request).encode())
        except ClientError as exc:  # e.g. AccessDeniedException: no invoke grant on this alias
            error = exc.response.get("Error", {})
            raise ControlCallFailed(
                str(error.get("Code", "invoke_refused")), str(error.get("Message", ""))
            ) from None
        except BotoCoreError as exc:  # no credentials, endpoint unreachable
            raise ControlCallFailed("invoke_failed", str(exc), retryable=True) from None
        body = response["Payload"].read()
        if response.get("FunctionError"):
            raise ControlCallFailed("function_error", body.decode(errors="replace")[:300], retryable=True)
        answer: dict[str, Any] = json.loads(body)
        return answer

    return send


@dataclass(frozen=True)
class _InProcessInvocation:
    """The context an in-process request carries: an invocation of the scope's alias."""

    invoked_function_arn: str


def _in_process(alias: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    context = _InProcessInvocation(
        aliased(f"arn:aws:lambda:{IN_PROCESS_REGION}:000000000000:function:control", alias)
    )

    def send(request: dict[str, Any]) -> dict[str, Any]:
        from rankr_ghl.wiring import root

        return root().control().handle(request, context)

    return send


class ControlClient:
    def __init__(self, send: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        self._send = send

    @classmethod
    def from_args(cls, args: argparse.Namespace, *, operator: bool = False) -> ControlClient:
        """The client of the account scope (`live`), or with `operator` of the operators' (`ops`)."""
        alias = OPERATOR_ALIAS if operator else ACCOUNT_ALIAS
        function = getattr(args, "control_function", None) or os.environ.get(CONTROL_FUNCTION_ENV)
        if function:
            return cls(_lambda_transport(aliased(function, alias), getattr(args, "invoke_url", None)))
        return cls(_in_process(alias))

    def call(self, op: str, account: str | None, **fields: Any) -> dict[str, Any]:
        """The op's result; its error raises `ControlCallFailed`. `None` fields are left out (an
        operator op's `account` too: there it is an optional filter)."""
        request = {"op": op, "rankrAccountId": account, **fields}
        answer = self._send({k: v for k, v in request.items() if v is not None})
        if not answer.get("ok"):
            error = answer.get("error") or {}
            raise ControlCallFailed(
                str(error.get("code", "error")),
                str(error.get("message", "")),
                retryable=bool(error.get("retryable")),
            )
        result: dict[str, Any] = answer["result"]
        return result


def operator_call(
    args: argparse.Namespace, op: str, account: str | None = None, **fields: Any
) -> dict[str, Any] | None:
    """An operator op's result through the `ops` alias, or None after printing its error (the CLI
    command then exits non-zero)."""
    try:
        return ControlClient.from_args(args, operator=True).call(op, account, **fields)
    except ControlCallFailed as refused:
        print(f"error: {refused.code}: {refused.message}", file=sys.stderr)
        return None
