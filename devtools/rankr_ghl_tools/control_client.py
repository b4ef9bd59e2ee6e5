"""The CLI's client of the control API: the same JSON requests Rankr sends, through the Lambda Invoke
API of ControlFunction (alias `live`).

The function is `--control-function` or `CONTROL_FUNCTION` (the stack output `ControlAliasArn`). The
endpoint is boto3's: `AWS_ENDPOINT_URL_LAMBDA` (or `--invoke-url`) points it at the local runtime's
Invoke API (`make run` prints it). Without a function configured, the request goes to the control
service in this process, over the deployment's environment: the handler ControlFunction runs, with
the same request and the same answer, for tests and for a shell without invoke permission.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from typing import Any

CONTROL_FUNCTION_ENV = "CONTROL_FUNCTION"


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
        help=f"ControlFunction alias ARN (default: ${CONTROL_FUNCTION_ENV}; none: in this process)",
    )
    parser.add_argument("--invoke-url", default=None, help="Lambda endpoint, e.g. the local runtime's")


def _lambda_transport(function: str, endpoint_url: str | None) -> Callable[[dict[str, Any]], dict[str, Any]]:
    import boto3

    client = boto3.client("lambda", endpoint_url=endpoint_url) if endpoint_url else boto3.client("lambda")

    def send(request: dict[str, Any]) -> dict[str, Any]:
        response = client.invoke(FunctionName=function, Payload=json.dumps(request).encode())
        body = response["Payload"].read()
        if response.get("FunctionError"):
            raise ControlCallFailed("function_error", body.decode(errors="replace")[:300], retryable=True)
        answer: dict[str, Any] = json.loads(body)
        return answer

    return send


def _in_process(request: dict[str, Any]) -> dict[str, Any]:
    from rankr_ghl.wiring import root

    return root().control().handle(request)


class ControlClient:
    def __init__(self, send: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        self._send = send

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> ControlClient:
        function = getattr(args, "control_function", None) or os.environ.get(CONTROL_FUNCTION_ENV)
        if function:
            return cls(_lambda_transport(function, getattr(args, "invoke_url", None)))
        return cls(_in_process)

    def call(self, op: str, account: str, **fields: Any) -> dict[str, Any]:
        """The op's result; its error raises `ControlCallFailed`. `None` fields are left out."""
        request = {"op": op, "rankrAccountId": account, **{k: v for k, v in fields.items() if v is not None}}
        answer = self._send(request)
        if not answer.get("ok"):
            error = answer.get("error") or {}
            raise ControlCallFailed(
                str(error.get("code", "error")),
                str(error.get("message", "")),
                retryable=bool(error.get("retryable")),
            )
        result: dict[str, Any] = answer["result"]
        return result
