"""Who may invoke the control API's operator alias: the operators' principal, and nobody else the
template grants. Rankr's managed policy names `live` alone; no function role may invoke `ops`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from rankr_ghl.flows.control.scope import ACCOUNT_ALIAS, OPERATOR_ALIAS
from rankr_ghl_tools.local.iam_policies import managed_policy_documents, role_policies, wildcard_match
from rankr_ghl_tools.local.template import load_template

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"


@pytest.fixture(scope="module")
def arns() -> dict[str, str]:
    function = load_template(TEMPLATE).functions["ControlFunction"]
    assert function.alias == ACCOUNT_ALIAS
    return {"live": f"{function.arn}:{ACCOUNT_ALIAS}", "ops": f"{function.arn}:{OPERATOR_ALIAS}"}


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document.get("Statement") or []
    return statements if isinstance(statements, list) else [statements]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _grants_invoke(document: dict[str, Any], arn: str) -> bool:
    return any(
        statement.get("Effect") == "Allow"
        and any(
            wildcard_match(a, "lambda:InvokeFunction", case_sensitive=False)
            for a in _as_list(statement["Action"])
        )
        and any(wildcard_match(str(r), arn) for r in _as_list(statement.get("Resource")))
        for statement in _statements(document)
    )


def test_the_ops_alias_is_the_one_the_handler_reads(template: dict[str, Any]) -> None:
    alias = template["Resources"]["ControlOpsAlias"]
    assert alias["Type"] == "AWS::Lambda::Alias"
    assert alias["Properties"]["Name"] == OPERATOR_ALIAS
    assert alias["Properties"]["FunctionName"] == {"Ref": "ControlFunction"}
    assert template["Outputs"]["ControlOpsAliasArn"]["Value"] == {"Ref": "ControlOpsAlias"}


def test_only_the_operator_principal_is_granted_the_ops_alias(template: dict[str, Any]) -> None:
    permissions = {
        name: resource
        for name, resource in template["Resources"].items()
        if resource["Type"] == "AWS::Lambda::Permission"
        and resource["Properties"]["FunctionName"] in ({"Ref": "ControlOpsAlias"}, {"Ref": "ControlFunction"})
    }
    assert list(permissions) == ["ControlOpsInvokePermission"]
    permission = permissions["ControlOpsInvokePermission"]
    assert permission["Properties"]["FunctionName"] == {"Ref": "ControlOpsAlias"}
    assert permission["Properties"]["Action"] == "lambda:InvokeFunction"
    assert permission["Properties"]["Principal"] == {"Ref": "OperatorPrincipalArn"}
    # Without a principal nothing is granted: the condition drops the permission.
    assert permission["Condition"] == "HasOperatorPrincipal"
    parameter = template["Parameters"]["OperatorPrincipalArn"]
    assert parameter["Default"] == "" and "RankrInvoker" not in str(parameter)


def test_rankr_s_policies_name_live_and_never_ops(arns: dict[str, str]) -> None:
    documents = managed_policy_documents(TEMPLATE)
    assert _grants_invoke(documents["ControlInvokePolicy"], arns["live"])
    for name, document in documents.items():
        assert not _grants_invoke(document, arns["ops"]), f"{name} lets its holder invoke the ops alias"


def test_no_function_role_may_invoke_the_ops_alias(arns: dict[str, str]) -> None:
    for function, role in role_policies(TEMPLATE).items():
        assert not role.allows("lambda:InvokeFunction", arns["ops"]), function
        assert not role.allows("lambda:InvokeFunction", arns["live"]), function


def test_the_local_runtime_serves_the_ops_alias() -> None:
    function = load_template(TEMPLATE).functions["ControlFunction"]
    assert OPERATOR_ALIAS in function.extra_aliases
