"""The IAM checker: recorded calls -> needed actions -> the template's role policies (offline)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rankr_ghl_tools.local.aws_calls import AwsCall, call_resources
from rankr_ghl_tools.local.iam_check import check_calls, requirements
from rankr_ghl_tools.local.iam_policies import role_policies, wildcard_match

REPO_TEMPLATE = Path(__file__).resolve().parents[3] / "template.yaml"
REGION = "us-east-1"
ACCOUNT = "123456789012"
TOKENS = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:rankr-ghl/dev/tokens/"
SYNC_TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/rankr-ghl-dev-sync-state"
CONNECTIONS_TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/rankr-ghl-dev-connections"
# Only an install creates a token secret (`TokenSecrets.install`); the others rotate an existing one.
TOKEN_INSTALLERS = ("OAuthCallbackFunction", "AgencyInstallFunction")
TOKEN_ROTATORS = ("WebhookWorkerFunction", "LeadPushFunction", "ReconcileFunction", "ControlFunction")


def _call(function: str, service: str, operation: str, **params: object) -> AwsCall:
    resources, details = call_resources(service, operation, params, REGION)
    return AwsCall(function, str(REPO_TEMPLATE), {}, service, operation, tuple(resources), details)


def _create_secret_with_tags(function: str) -> AwsCall:
    return _call(
        function,
        "secretsmanager",
        "CreateSecret",
        Name="rankr-ghl/dev/tokens/locA",
        SecretString="{}",
        Tags=[{"Key": "app", "Value": "rankr-ghl"}],
    )


_MINIMAL_TEMPLATE = """
Transform: AWS::Serverless-2016-10-31
Resources:
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: t
      AttributeDefinitions: [{AttributeName: pk, AttributeType: S}]
      KeySchema: [{AttributeName: pk, KeyType: HASH}]
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.13
      Handler: app.handler
      CodeUri: fn/
      Policies:
        - Statement:
            - Sid: Tokens
              Effect: Allow
              Action: [secretsmanager:CreateSecret, secretsmanager:PutSecretValue]
              Resource: !Sub arn:aws:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:tok/*
            - Sid: TableOnly
              Effect: Allow
              Action: [dynamodb:Query, dynamodb:PutItem]
              Resource: !GetAtt Table.Arn
            - Sid: NoDeletes
              Effect: Deny
              Action: dynamodb:Delete*
              Resource: "*"
"""


@pytest.fixture
def minimal_template(tmp_path: Path) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(_MINIMAL_TEMPLATE)
    (tmp_path / "fn").mkdir()
    return path


def _fn_call(template: Path, service: str, operation: str, **params: object) -> AwsCall:
    resources, details = call_resources(service, operation, params, REGION)
    return AwsCall("Fn", str(template), {}, service, operation, tuple(resources), details)


def test_create_secret_with_tags_needs_tag_resource() -> None:
    needs = {(n.action, n.resource) for n in requirements(_create_secret_with_tags("OAuthCallbackFunction"))}
    arn = f"{TOKENS}locA-??????"
    assert needs == {("secretsmanager:CreateSecret", arn), ("secretsmanager:TagResource", arn)}


def test_create_secret_without_tags_needs_only_create() -> None:
    call = _call("Fn", "secretsmanager", "CreateSecret", Name="rankr-ghl/dev/tokens/locA", SecretString="{}")
    assert [n.action for n in requirements(call)] == ["secretsmanager:CreateSecret"]


def test_a_customer_managed_key_needs_kms_grants_and_an_aws_managed_key_none() -> None:
    name = "rankr-ghl/dev/tokens/locA"
    cmk = _call("Fn", "secretsmanager", "CreateSecret", Name=name, SecretString="{}", KmsKeyId="1234-abcd")
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/1234-abcd"
    assert {(n.action, n.resource) for n in requirements(cmk) if n.action.startswith("kms:")} == {
        ("kms:GenerateDataKey", key),
        ("kms:Decrypt", key),
    }
    managed = _call(
        "Fn",
        "secretsmanager",
        "CreateSecret",
        Name=name,
        SecretString="{}",
        KmsKeyId="alias/aws/secretsmanager",
    )
    assert [n.action for n in requirements(managed)] == ["secretsmanager:CreateSecret"]


def test_missing_tag_resource_is_reported_with_function_action_and_resource(minimal_template: Path) -> None:
    call = _fn_call(minimal_template, "secretsmanager", "CreateSecret", Name="tok/locA", Tags=[{"Key": "k"}])
    report = check_calls([call], minimal_template)
    [missing] = report.missing
    assert (missing.function, missing.action) == ("Fn", "secretsmanager:TagResource")
    assert missing.resource == f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:tok/locA-??????"
    assert "Fn: secretsmanager:TagResource on arn:" in str(missing)


@pytest.mark.parametrize("function", TOKEN_INSTALLERS)
def test_repo_template_grants_tagged_token_secret_creation(function: str) -> None:
    """Every function that installs tokens may create the secret (with its tags) when it is missing."""
    report = check_calls([_create_secret_with_tags(function)], REPO_TEMPLATE)
    assert report.missing == [], [str(m) for m in report.missing]


@pytest.mark.parametrize("function", TOKEN_ROTATORS)
def test_functions_that_only_rotate_tokens_may_not_create_secrets(function: str) -> None:
    report = check_calls([_create_secret_with_tags(function)], REPO_TEMPLATE)
    assert {m.action for m in report.missing} == {"secretsmanager:CreateSecret", "secretsmanager:TagResource"}


def test_transact_write_items_needs_each_items_action_on_its_table(minimal_template: Path) -> None:
    call = _fn_call(
        minimal_template,
        "dynamodb",
        "TransactWriteItems",
        TransactItems=[
            {"Put": {"TableName": "t", "Item": {}}},
            {"ConditionCheck": {"TableName": "other", "Key": {}, "ConditionExpression": "x"}},
        ],
    )
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/"
    assert {(n.action, n.resource) for n in requirements(call)} == {
        ("dynamodb:PutItem", table + "t"),
        ("dynamodb:ConditionCheckItem", table + "other"),
    }
    report = check_calls([call], minimal_template)
    assert [(m.action, m.resource) for m in report.missing] == [
        ("dynamodb:ConditionCheckItem", table + "other")
    ]


def test_query_on_an_index_needs_the_index_arn(minimal_template: Path) -> None:
    on_table = _fn_call(minimal_template, "dynamodb", "Query", TableName="t", KeyConditionExpression="x")
    on_index = _fn_call(minimal_template, "dynamodb", "Query", TableName="t", IndexName="byX")
    assert check_calls([on_table], minimal_template).missing == []
    [missing] = check_calls([on_index], minimal_template).missing
    assert missing.resource.endswith(":table/t/index/byX") and missing.action == "dynamodb:Query"


def test_an_explicit_deny_wins(minimal_template: Path) -> None:
    call = _fn_call(minimal_template, "dynamodb", "DeleteItem", TableName="t", Key={})
    [missing] = check_calls([call], minimal_template).missing
    assert missing.action == "dynamodb:DeleteItem"


def test_unused_grants_are_listed(minimal_template: Path) -> None:
    call = _fn_call(minimal_template, "dynamodb", "PutItem", TableName="t", Item={})
    report = check_calls([call], minimal_template)
    unused = {(u.action, u.statement) for u in report.unused}
    assert ("dynamodb:Query", "TableOnly") in unused and ("dynamodb:PutItem", "TableOnly") not in unused
    assert ("secretsmanager:CreateSecret", "Tokens") in unused
    assert report.summary()["unused_permissions"] == len(report.unused)


def test_an_operation_with_no_known_action_is_unmapped_not_passed(minimal_template: Path) -> None:
    call = _fn_call(minimal_template, "dynamodb", "NoSuchOperation", TableName="t")
    report = check_calls([call], minimal_template)
    assert report.unmapped == ["dynamodb:NoSuchOperation"]


def test_batch_operations_map_to_their_single_actions() -> None:
    call = _call(
        "Fn", "sqs", "SendMessageBatch", QueueUrl="http://127.0.0.1:5/123456789012/q.fifo", Entries=[]
    )
    [need] = requirements(call)
    assert (need.action, need.resource) == ("sqs:SendMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT}:q.fifo")
    write = _call("Fn", "dynamodb", "BatchWriteItem", RequestItems={"t": [{"PutRequest": {"Item": {}}}]})
    assert [n.action for n in requirements(write)] == ["dynamodb:BatchWriteItem"]


def test_calls_of_functions_outside_the_template_are_ignored(minimal_template: Path) -> None:
    stray = AwsCall("EchoFunction", "x", {}, "sqs", "SendMessage", ("*",), {})
    report = check_calls([stray], minimal_template)
    assert report.ignored_calls == 1 and report.calls_recorded == 0
    assert report.unrecorded_functions == ["Fn"]


def test_wildcards_follow_iam_matching() -> None:
    assert wildcard_match("sqs:SendMessage*", "SQS:sendmessage", case_sensitive=False)
    assert wildcard_match("arn:aws:secretsmanager:*:secret:a/*", "arn:aws:secretsmanager:r:secret:a/b-??????")
    assert not wildcard_match("arn:aws:dynamodb:r:a:table/T", "arn:aws:dynamodb:r:a:table/t")
    assert wildcard_match("table/?", "table/x") and not wildcard_match("table/?", "table/xy")


def test_sam_policy_templates_are_expanded() -> None:
    roles = role_policies(REPO_TEMPLATE)
    assert set(roles) >= set(TOKEN_INSTALLERS) | set(TOKEN_ROTATORS) | {"WebhookIntakeFunction"}
    intake = roles["WebhookIntakeFunction"]
    queue = f"arn:aws:sqs:{REGION}:{ACCOUNT}:rankr-ghl-dev-webhooks.fifo"
    assert intake.allows("sqs:SendMessage", queue)
    assert not intake.allows("secretsmanager:GetSecretValue", f"{TOKENS}locA-??????")
    assert not roles["WebhookIntakeFunction"].allows("dynamodb:GetItem", CONNECTIONS_TABLE)


def test_parameters_change_the_resolved_resources() -> None:
    prod = role_policies(REPO_TEMPLATE, {"Stage": "prod"})["OAuthCallbackFunction"]
    assert prod.allows("secretsmanager:CreateSecret", TOKENS.replace("/dev/", "/prod/") + "x-??????")
    assert not prod.allows("secretsmanager:CreateSecret", f"{TOKENS}x-??????")


def test_the_control_function_may_invoke_lead_push_s_async_alias_and_nothing_else() -> None:
    """dlq.replay invokes LeadPushFunction's `async` alias; the grant names exactly that alias."""
    from rankr_ghl_tools.local.template import load_template

    template = load_template(REPO_TEMPLATE)
    lead_push = template.functions["LeadPushFunction"]
    async_alias = template.outputs["LeadPushAsyncAliasArn"]
    assert async_alias == f"{lead_push.arn}:async"

    def invoke(function: str, target: str) -> AwsCall:
        return _call(function, "lambda", "Invoke", FunctionName=target, InvocationType="Event")

    [need] = requirements(invoke("ControlFunction", async_alias))
    assert (need.action, need.resource) == ("lambda:InvokeFunction", async_alias)
    assert check_calls([invoke("ControlFunction", async_alias)], REPO_TEMPLATE).missing == []
    for target in (lead_push.alias_arn, lead_push.arn, template.functions["ReconcileFunction"].arn):
        [missing] = check_calls([invoke("ControlFunction", str(target))], REPO_TEMPLATE).missing
        assert missing.action == "lambda:InvokeFunction" and missing.resource == target
    [missing] = check_calls([invoke("ReconcileFunction", async_alias)], REPO_TEMPLATE).missing
    assert missing.function == "ReconcileFunction"
