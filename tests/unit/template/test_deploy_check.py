"""`make deploy-check` passes on the repository and fails on a broken copy for each of its checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from rankr_ghl_tools import deploy_check
from rankr_ghl_tools.deploy_samconfig import Report

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = (ROOT / "template.yaml").read_text()
SAMCONFIG = (ROOT / "samconfig.toml").read_text()
FILLED = {
    "GhlClientId=FILL-ME-ghl-client-id": "GhlClientId=0123456789abcdef01234567-abc123",
    "RankrApiBaseUrl=FILL-ME-rankr-api-base-url": "RankrApiBaseUrl=https://api.rankr.io",
    "AlarmEmail=FILL-ME-alarm-email": "AlarmEmail=ops@rankr.io",
}


def _edit(text: str, replacements: dict[str, str]) -> str:
    for old, new in replacements.items():
        assert old in text, f"the broken copy no longer applies: {old!r}"
        text = text.replace(old, new)
    return text


def _run(
    tmp_path: Path,
    template: dict[str, str] | None = None,
    samconfig: dict[str, str] | None = None,
    *,
    deploy_env: str | None = None,
    lint: bool = False,
) -> Report:
    (tmp_path / "template.yaml").write_text(_edit(TEMPLATE, template or {}))
    (tmp_path / "samconfig.toml").write_text(_edit(SAMCONFIG, samconfig or {}))
    return deploy_check.run(
        tmp_path / "template.yaml", tmp_path / "samconfig.toml", ROOT / ".cfnlintrc", deploy_env, lint=lint
    )


def _failed(report: Report, *fragments: str) -> None:
    text = "\n".join(report.failures)
    for fragment in fragments:
        assert fragment in text, f"expected a failure naming {fragment!r}, got:\n{text}"


def test_the_repository_passes_and_lists_what_to_fill(tmp_path: Path) -> None:
    report = _run(tmp_path, lint=True)
    assert report.failures == []
    assert {"samconfig [dev]: GhlClientId", "samconfig [prod]: AlarmEmail"} <= set(report.to_fill)


def test_a_deploy_with_fill_me_values_is_refused(tmp_path: Path) -> None:
    _failed(_run(tmp_path, deploy_env="dev"), "[dev]: GhlClientId='FILL-ME-ghl-client-id' is a placeholder")


def test_a_filled_environment_deploys(tmp_path: Path) -> None:
    report = _run(tmp_path, samconfig=FILLED, deploy_env="prod")
    assert report.failures == []
    assert report.to_fill == []


def test_a_placeholder_that_passes_the_pattern_fails(tmp_path: Path) -> None:
    broken = {"AlarmEmail=FILL-ME-alarm-email": "AlarmEmail=alarms@rankr.example"}
    _failed(
        _run(tmp_path, samconfig=broken),
        "placeholder AlarmEmail='alarms@rankr.example' passes AllowedPattern",
    )


def test_a_required_parameter_missing_from_an_environment_fails(tmp_path: Path) -> None:
    broken = {
        "Stage=prod LogLevel=INFO LogRetentionDays=90 GhlClientId=FILL-ME-ghl-client-id ": "Stage=prod "
    }
    _failed(_run(tmp_path, samconfig=broken), "[prod]: required parameter GhlClientId is not set")


def test_a_value_failing_its_pattern_fails(tmp_path: Path) -> None:
    broken = {"RankrApiBaseUrl=FILL-ME-rankr-api-base-url": "RankrApiBaseUrl=http://rankr.io"}
    _failed(_run(tmp_path, samconfig=broken), "RankrApiBaseUrl='http://rankr.io' fails AllowedPattern")


def test_a_placeholder_default_fails(tmp_path: Path) -> None:
    broken = {
        "  RankrApiBaseUrl:\n    Type: String\n": "  RankrApiBaseUrl:\n    Type: String\n"
        "    Default: https://api.rankr.example\n"
    }
    _failed(_run(tmp_path, template=broken), "RankrApiBaseUrl has the placeholder Default")


def test_schedules_in_the_default_group_with_default_names_collide(tmp_path: Path) -> None:
    broken = {
        "            Name: !Sub rankr-ghl-${Stage}-reconcile-incremental\n"
        "            GroupName: !Ref ReconcileScheduleGroup\n": "",
    }
    _failed(
        _run(tmp_path, template=broken),
        "AWS::Scheduler::Schedule default/ReconcileFunctionIncremental (ReconcileFunctionIncremental) "
        "is created by both dev and prod",
    )


def test_a_table_name_without_the_stage_collides(tmp_path: Path) -> None:
    broken = {"TableName: !Sub rankr-ghl-${Stage}-audit": "TableName: rankr-ghl-audit"}
    _failed(_run(tmp_path, template=broken), "AWS::DynamoDB::Table rankr-ghl-audit (AuditTable)")


def test_an_export_without_the_stage_collides(tmp_path: Path) -> None:
    broken = {"Name: !Sub rankr-ghl-${Stage}-lead-push-alias-arn": "Name: rankr-ghl-lead-push-alias-arn"}
    _failed(_run(tmp_path, template=broken), "Export rankr-ghl-lead-push-alias-arn")


def test_two_environments_on_one_stack_collide(tmp_path: Path) -> None:
    broken = {'stack_name = "rankr-ghl-prod"': 'stack_name = "rankr-ghl-dev"'}
    _failed(_run(tmp_path, samconfig=broken), "dev and prod share a stack name")


def test_an_unclassified_resource_type_fails(tmp_path: Path) -> None:
    broken = {"  Dashboard:\n": "  Bucket:\n    Type: AWS::S3::Bucket\n\n  Dashboard:\n"}
    _failed(_run(tmp_path, template=broken), "Bucket: resource type AWS::S3::Bucket is not classified")


@pytest.mark.parametrize("logical_id", ["ConnectionsTable", "AppSecret", "WebhookDLQ"])
def test_state_without_retain_fails(tmp_path: Path, logical_id: str) -> None:
    rtype = {
        "ConnectionsTable": "DynamoDB::Table",
        "AppSecret": "SecretsManager::Secret",
        "WebhookDLQ": "SQS::Queue",
    }
    header = f"  {logical_id}:\n    Type: AWS::{rtype[logical_id]}\n"
    broken = {header + "    DeletionPolicy: Retain\n": header + "    DeletionPolicy: Delete\n"}
    _failed(_run(tmp_path, template=broken), f"{logical_id}: DeletionPolicy must be Retain")


def test_prod_tables_without_deletion_protection_fail(tmp_path: Path) -> None:
    broken = {
        "      TableName: !Sub rankr-ghl-${Stage}-sync-state\n      BillingMode: PAY_PER_REQUEST\n"
        "      DeletionProtectionEnabled: !If [IsProd, true, false]\n": "      TableName: !Sub "
        "rankr-ghl-${Stage}-sync-state\n      BillingMode: PAY_PER_REQUEST\n"
    }
    report = _run(tmp_path, template=broken)
    _failed(report, "[prod] SyncStateTable: DeletionProtectionEnabled must be true in prod")
    assert not any("[dev] SyncStateTable" in f for f in report.failures)


def test_a_topic_on_the_aws_managed_key_fails(tmp_path: Path) -> None:
    display = "      DisplayName: !Sub rankr-ghl-${Stage} alarms\n"
    broken = {display: display + "      KmsMasterKeyId: alias/aws/sns\n"}
    _failed(_run(tmp_path, template=broken), "AlarmTopic: encrypted with 'alias/aws/sns'")


def test_a_topic_policy_without_cloudwatch_fails(tmp_path: Path) -> None:
    broken = {
        "              Service: cloudwatch.amazonaws.com\n": "              Service: events.amazonaws.com\n"
    }
    _failed(
        _run(tmp_path, template=broken), "AlarmTopicPolicy: does not let cloudwatch.amazonaws.com publish"
    )


def test_a_topic_without_an_email_subscription_fails(tmp_path: Path) -> None:
    broken = {"      Protocol: email\n": "      Protocol: sms\n"}
    _failed(_run(tmp_path, template=broken), "AlarmTopic: no unconditional e-mail subscription")


def test_an_alarm_without_an_action_fails(tmp_path: Path) -> None:
    alarm = "      AlarmDescription: Reconcile raised errors.\n"
    text = TEMPLATE[TEMPLATE.index(alarm) :]
    action = text[: text.index("      AlarmActions: [!Ref AlarmTopic]\n") + 38]
    broken = {action: action.replace("      AlarmActions: [!Ref AlarmTopic]\n", "")}
    _failed(_run(tmp_path, template=broken), "ReconcileErrorsAlarm: the alarm has no action")


def test_the_planner_without_an_on_failure_destination_fails(tmp_path: Path) -> None:
    broken = {
        "        DestinationConfig:\n          OnFailure:\n            Type: SQS\n"
        "            Destination: !GetAtt ReconcilePlannerFailureQueue.Arn\n": "",
    }
    _failed(
        _run(tmp_path, template=broken),
        "ReconcileFunction: invoked asynchronously but has no on-failure destination",
    )


def test_a_function_rankr_may_invoke_async_needs_a_destination(tmp_path: Path) -> None:
    broken = {
        "        DestinationConfig:\n          OnFailure:\n            Type: SQS\n"
        "            Destination: !GetAtt LeadPushFailureQueue.Arn\n": ""
    }
    _failed(_run(tmp_path, template=broken), "LeadPushFunction: invoked asynchronously through alias live")


def test_each_alias_rankr_may_invoke_async_needs_its_own_destination(tmp_path: Path) -> None:
    """Async settings are per qualifier: the `async` alias gets nothing from the function's own."""
    broken = {
        "      DestinationConfig:\n        OnFailure:\n"
        "          Destination: !GetAtt LeadPushFailureQueue.Arn\n": ""
    }
    _failed(_run(tmp_path, template=broken), "LeadPushFunction: invoked asynchronously through alias async")


def test_a_function_without_its_log_group_fails(tmp_path: Path) -> None:
    broken = {"      LoggingConfig:\n        LogGroup: !Ref LeadPushLogGroup\n": ""}
    _failed(_run(tmp_path, template=broken), "LeadPushFunction: logs to no log group")


def test_debug_logging_in_prod_fails(tmp_path: Path) -> None:
    broken = {
        "POWERTOOLS_LOG_LEVEL: !If [IsProd, INFO, !Ref LogLevel]": "POWERTOOLS_LOG_LEVEL: !Ref LogLevel"
    }
    report = _run(
        tmp_path, template=broken, samconfig={"Stage=prod LogLevel=INFO": "Stage=prod LogLevel=DEBUG"}
    )
    _failed(report, "[prod] ReconcileFunction: logs at DEBUG in prod")


def test_an_access_log_field_with_the_query_string_fails(tmp_path: Path) -> None:
    broken = {'"path":"$context.path"': '"path":"$context.requestOverride.querystring.code"'}
    _failed(_run(tmp_path, template=broken), "$context.requestOverride.querystring.code may leak")


def test_cfn_lint_informational_findings_fail(tmp_path: Path) -> None:
    header = "  AuditTable:\n    Type: AWS::DynamoDB::Table\n"
    broken = {header + "    DeletionPolicy: Retain\n    UpdateReplacePolicy: Retain\n": header}
    report = _run(tmp_path, template=broken, lint=True)
    _failed(report, "cfn-lint (informational rules included)", "I3011")


def test_parameters_a_deploy_must_set_have_no_default() -> None:
    parameters = deploy_check.decode_template(ROOT / "template.yaml")["Parameters"]
    for name in ("Stage", "GhlClientId", "RankrApiBaseUrl", "AlarmEmail"):
        assert "Default" not in parameters[name], name


def test_the_local_runtime_resolves_the_required_parameters_itself() -> None:
    from rankr_ghl_tools.local.template import LOCAL_PARAMETER_VALUES, load_template

    template = load_template(ROOT / "template.yaml")
    assert template.parameters["GhlClientId"] == LOCAL_PARAMETER_VALUES["GhlClientId"]
    env = template.functions["ReconcileFunction"].env
    assert env["GHL_CLIENT_ID"] == LOCAL_PARAMETER_VALUES["GhlClientId"]
    assert {s.name for s in template.schedules.values()} == {
        "rankr-ghl-dev-reconcile-incremental",
        "rankr-ghl-dev-reconcile-nightly",
        "rankr-ghl-dev-reconcile-notes",
        "rankr-ghl-dev-dead-letter-count",
    }
    prod = load_template(ROOT / "template.yaml", {"Stage": "prod", "LogLevel": "DEBUG"})
    assert prod.functions["ReconcileFunction"].env["POWERTOOLS_LOG_LEVEL"] == "INFO"
