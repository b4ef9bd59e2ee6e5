"""Least-privilege checks over template.yaml.

SAM policy templates are expanded by SAM itself; here we check the statements we write by
hand and the policy templates we allow, so a wildcard slipping in fails the build.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"

# SAM policy templates that expand to specific actions on one named resource.
ALLOWED_POLICY_TEMPLATES = {
    "DynamoDBCrudPolicy",
    "DynamoDBWritePolicy",
    "DynamoDBReadPolicy",
    "SQSSendMessagePolicy",
    "AWSSecretsManagerGetSecretValuePolicy",
}


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        name: res["Properties"]
        for name, res in template["Resources"].items()
        if res["Type"] == "AWS::Serverless::Function"
    }


def _statements(policy: Any) -> list[dict[str, Any]]:
    if isinstance(policy, dict) and "Statement" in policy:
        stmts = policy["Statement"]
        return list(stmts) if isinstance(stmts, list) else [stmts]
    return []


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def test_every_function_uses_only_scoped_policy_templates(template: dict[str, Any]) -> None:
    for name, props in _functions(template).items():
        for policy in props.get("Policies", []):
            if isinstance(policy, str):
                pytest.fail(f"{name}: managed policy {policy!r} is broader than needed")
            if isinstance(policy, dict) and "Statement" not in policy:
                (kind,) = policy.keys()
                assert kind in ALLOWED_POLICY_TEMPLATES, f"{name}: unexpected policy template {kind}"


def test_no_wildcard_actions_or_resources(template: dict[str, Any]) -> None:
    for name, props in _functions(template).items():
        for policy in props.get("Policies", []):
            for stmt in _statements(policy):
                for action in _as_list(stmt["Action"]):
                    assert "*" not in str(action), f"{name}: wildcard action {action}"
                for resource in _as_list(stmt["Resource"]):
                    assert resource != "*", f"{name}: wildcard resource in {stmt.get('Sid')}"


def test_token_secrets_are_scoped_by_name_prefix(template: dict[str, Any]) -> None:
    seen = 0
    for name, props in _functions(template).items():
        for policy in props.get("Policies", []):
            for stmt in _statements(policy):
                if any(str(a).startswith("secretsmanager:") for a in _as_list(stmt["Action"])):
                    for resource in _as_list(stmt["Resource"]):
                        text = str(resource)
                        assert "secret:rankr-ghl/${Stage}/tokens/*" in text, f"{name}: {text}"
                        seen += 1
    assert seen >= 4, "expected token-secret statements on the functions that use the vault"


def test_intake_cannot_touch_tokens_or_rankr(template: dict[str, Any]) -> None:
    props = _functions(template)["WebhookIntakeFunction"]
    text = repr(props.get("Policies", []))
    assert "secretsmanager" not in text and "AWSSecretsManager" not in text


def test_lead_push_invoke_permission_is_exported(template: dict[str, Any]) -> None:
    policy = template["Resources"]["LeadPushInvokePolicy"]["Properties"]["PolicyDocument"]
    (stmt,) = policy["Statement"]
    assert stmt["Action"] == "lambda:InvokeFunction"
    # Both aliases and nothing else: `live` for sync calls, `async` for Event calls.
    assert stmt["Resource"] == [{"Ref": "LeadPushFunction.Alias"}, {"Ref": "LeadPushAsyncAlias"}]
    outputs = template["Outputs"]
    assert "Export" in outputs["LeadPushInvokePolicyArn"]
    assert "Export" in outputs["LeadPushAliasArn"]
    assert "Export" in outputs["LeadPushAsyncAliasArn"]


def test_lead_push_async_alias_has_its_own_retries_and_failure_queue(template: dict[str, Any]) -> None:
    """The handler recognises the async alias by name; Lambda retries its events and keeps the ones
    that still fail in the lead-push failure queue."""
    from rankr_ghl.flows.lead_push.invocation import ASYNC_ALIAS

    resources = template["Resources"]
    alias = resources["LeadPushAsyncAlias"]["Properties"]
    assert alias["Name"] == ASYNC_ALIAS and alias["FunctionName"] == {"Ref": "LeadPushFunction"}
    config = resources["LeadPushAsyncInvokeConfig"]["Properties"]
    assert config["FunctionName"] == {"Ref": "LeadPushFunction"}
    assert config["MaximumRetryAttempts"] == 2
    destination = config["DestinationConfig"]["OnFailure"]["Destination"]
    assert destination == {"Fn::GetAtt": ["LeadPushFailureQueue", "Arn"]}
    # The role's sqs:SendMessage on that queue comes from the function's own EventInvokeConfig.
    own = resources["LeadPushFunction"]["Properties"]["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
    assert own["Destination"] == destination


def test_tracer_never_captures_responses() -> None:
    """Handlers must pass capture_response=False so tokens never reach X-Ray."""
    functions_dir = TEMPLATE.parent / "functions"
    for app in functions_dir.glob("*/app.py"):
        source = app.read_text()
        if "capture_lambda_handler" in source:
            assert "capture_response=False" in source, f"{app} traces responses"
