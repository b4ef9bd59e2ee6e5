"""The CLI is a thin client of the control API: its commands reach AWS only through the control client
(the Lambda Invoke API of ControlFunction), each with the alias of its scope."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest
from rankr_ghl_tools import cli
from rankr_ghl_tools.control_client import ControlClient, aliased

COMMANDS = Path(cli.__file__).parent / "commands"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:rankr-ghl-dev-Control"


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(COMMANDS.glob("*.py")), ids=lambda p: p.name)
def test_no_command_calls_aws_itself(path: Path) -> None:
    direct = {
        name
        for name in _imports(path)
        if name.split(".")[0] in {"boto3", "botocore"}
        or name.startswith(("rankr_ghl.aws", "rankr_ghl.wiring"))
    }
    assert direct == set(), f"{path.name} reaches AWS without the control API: {direct}"


@pytest.mark.parametrize(
    ("function", "alias", "expected"),
    [
        (f"{FUNCTION_ARN}:live", "ops", f"{FUNCTION_ARN}:ops"),
        (f"{FUNCTION_ARN}:ops", "live", f"{FUNCTION_ARN}:live"),
        (FUNCTION_ARN, "ops", f"{FUNCTION_ARN}:ops"),
        ("rankr-ghl-dev-Control", "live", "rankr-ghl-dev-Control:live"),
        ("rankr-ghl-dev-Control:live", "ops", "rankr-ghl-dev-Control:ops"),
    ],
)
def test_the_client_puts_the_scope_s_alias_on_the_function(function: str, alias: str, expected: str) -> None:
    assert aliased(function, alias) == expected


class _Args:
    control_function = f"{FUNCTION_ARN}:live"
    invoke_url = "http://127.0.0.1:9"


def test_operator_commands_invoke_ops_and_account_commands_live(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: list[tuple[str, dict[str, Any]]] = []

    def transport(function: str, endpoint_url: str | None) -> Any:
        def send(request: dict[str, Any]) -> dict[str, Any]:
            sent.append((function, request))
            return {"ok": True, "result": {}}

        return send

    monkeypatch.setattr("rankr_ghl_tools.control_client._lambda_transport", transport)
    ControlClient.from_args(_Args(), operator=True).call("ops.connections.list", None, companyId=None)  # type: ignore[arg-type]
    ControlClient.from_args(_Args()).call("connections.list", "acct1")  # type: ignore[arg-type]
    assert sent == [
        (f"{FUNCTION_ARN}:ops", {"op": "ops.connections.list"}),
        (f"{FUNCTION_ARN}:live", {"op": "connections.list", "rankrAccountId": "acct1"}),
    ]


def test_an_alias_the_caller_may_not_invoke_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    import boto3
    from botocore.stub import Stubber
    from rankr_ghl_tools.cli import main

    client = boto3.client("lambda", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    stubber = Stubber(client)
    stubber.add_client_error(
        "invoke",
        service_error_code="AccessDeniedException",
        service_message="not authorized to perform: lambda:InvokeFunction on resource ...:ops",
        http_status_code=403,
    )
    stubber.activate()
    monkeypatch.setattr(boto3, "client", lambda *args, **kwargs: client)
    assert main(["connections", "list", "--control-function", f"{FUNCTION_ARN}:live"]) == 1
    err = capsys.readouterr().err
    assert "AccessDeniedException" in err and "lambda:InvokeFunction" in err
    stubber.assert_no_pending_responses()
