"""Fixtures of the lead-push unit tests: the flow over lead_push_fakes + real Powertools Idempotency
(moto in-process: no socket)."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from lead_push_fakes import FakeGHL, FakeLocations, Records, World, lead_mapping
from moto import mock_aws
from rankr_ghl.flows.lead_push import LeadPushService, PushSettings, SyncLeadMapper, powertools_idempotency
from rankr_ghl.sync.mapping import MappingResolver


@pytest.fixture
def idempotency_table() -> Iterator[str]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName="idem",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield "idem"


@pytest.fixture
def world(idempotency_table: str) -> World:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

    ghl = FakeGHL()
    resolver = MappingResolver(default=lead_mapping())
    records = Records(resolver)
    idem = powertools_idempotency(DynamoDBPersistenceLayer(table_name=idempotency_table))
    service = LeadPushService(
        ghl=ghl,
        records=records.adapter,
        mapper=SyncLeadMapper(resolver),
        locations=FakeLocations(),
        idempotent=idem.runner,
        in_progress_errors=idem.in_progress_errors,
        settings=PushSettings(workers=4, in_progress_wait_s=5.0),
        sleep=lambda _s: None,
    )
    return World(ghl=ghl, records=records, service=service, config=idem.config, resolver=resolver)
