"""The embedded AWS holds exactly the tables, queues and secrets template.yaml declares."""

from __future__ import annotations

import json
import os

import boto3
import pytest
from rankr_ghl_tools.local.aws import EmbeddedAws
from rankr_ghl_tools.local.template import load_template

pytestmark = pytest.mark.integration


def _index_keys(indexes: list[dict]) -> dict[str, list[tuple[str, str]]]:
    return {i["IndexName"]: [(k["AttributeName"], k["KeyType"]) for k in i["KeySchema"]] for i in indexes}


def test_tables_match_template(embedded_aws: EmbeddedAws) -> None:
    template = embedded_aws.template
    ddb = boto3.client("dynamodb")  # plain client: proves AWS_ENDPOINT_URL reaches boto3
    existing = set(ddb.list_tables()["TableNames"])
    assert {t.name for t in template.tables.values()} <= existing
    assert len(template.tables) >= 4
    for spec in template.tables.values():
        table = ddb.describe_table(TableName=spec.name)["Table"]
        assert [(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]] == [
            (k["AttributeName"], k["KeyType"]) for k in spec.key_schema
        ]
        assert _index_keys(table.get("GlobalSecondaryIndexes", [])) == _index_keys(
            spec.global_secondary_indexes
        )
        ttl = ddb.describe_time_to_live(TableName=spec.name)["TimeToLiveDescription"]
        if spec.ttl_attribute:
            assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", spec.ttl_attribute)
        else:
            assert ttl["TimeToLiveStatus"] == "DISABLED"


def test_queues_match_template(embedded_aws: EmbeddedAws) -> None:
    template = embedded_aws.template
    sqs = embedded_aws.client("sqs")
    # Other tests of the session add private queues; every template queue must exist as declared.
    urls = set(sqs.list_queues(QueueNamePrefix="rankr-ghl-")["QueueUrls"])
    assert {q.url for q in template.queues.values()} == urls
    for spec in template.queues.values():
        attrs = sqs.get_queue_attributes(QueueUrl=spec.url, AttributeNames=["All"])["Attributes"]
        assert attrs["QueueArn"] == spec.arn
        assert attrs.get("FifoQueue", "false") == ("true" if spec.fifo else "false")
        assert int(attrs["VisibilityTimeout"]) == spec.visibility_timeout_s
        if spec.dead_letter_queue:
            redrive = json.loads(attrs["RedrivePolicy"])
            assert redrive["deadLetterTargetArn"] == template.queues[spec.dead_letter_queue].arn
            assert int(redrive["maxReceiveCount"]) == spec.max_receive_count
        else:
            assert "RedrivePolicy" not in attrs
    # The real template's webhook queue is FIFO with a DLQ: guard against a resolver regression.
    webhook = template.queues["WebhookQueue"]
    assert webhook.fifo and webhook.dead_letter_queue == "WebhookDLQ" and webhook.max_receive_count == 5


def test_function_env_points_at_local_resources(embedded_aws: EmbeddedAws) -> None:
    template = embedded_aws.template
    env = template.functions["WebhookIntakeFunction"].env
    assert env["WEBHOOK_QUEUE_URL"] == template.queues["WebhookQueue"].url
    assert env["WEBHOOK_QUEUE_URL"].startswith(embedded_aws.endpoint_url)
    assert env["SYNC_TABLE"] == template.tables["SyncStateTable"].name
    secret = boto3.client("secretsmanager").get_secret_value(SecretId=env["APP_SECRET_ID"])
    document = json.loads(secret["SecretString"])
    assert set(document) == {"client_id", "client_secret", "rankr_api_key", "state_signing_key"}
    assert len(document["state_signing_key"]) == 48 and document["state_signing_key"].isalnum()


def test_own_instance_is_isolated_and_restores_environ() -> None:
    before = os.environ.get("AWS_ENDPOINT_URL")
    template = load_template(os.path.join(os.path.dirname(__file__), "fixtures", "template.yaml"))
    with EmbeddedAws(template, secret_values={"TestSecret": {"api_key": "k1"}}) as aws:
        assert os.environ["AWS_ENDPOINT_URL"] == aws.endpoint_url != before
        names = aws.client("dynamodb").list_tables()["TableNames"]
        assert names == [t.name for t in template.tables.values()]  # not the session's tables
        value = json.loads(
            aws.client("secretsmanager").get_secret_value(SecretId=aws.physical["TestSecret"]["Ref"])[
                "SecretString"
            ]
        )
        assert value["api_key"] == "k1"
    assert os.environ.get("AWS_ENDPOINT_URL") == before
