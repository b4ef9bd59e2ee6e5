"""The local runtime's plain specs of `template.yaml`: functions, their events and aliases, tables,
queues, secrets and APIs, with the local account, region and parameter values they resolve against."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
PARTITION = "aws"
URL_SUFFIX = "amazonaws.com"
STACK_NAME = "rankr-ghl-local"
LOCAL_API_ID = "localapi"

# What the local runtime gives the parameters a real deploy must set (they have no Default, so a
# deploy cannot go out with a placeholder). The stack overrides the endpoints and the client id
# with its sandboxes' values; these let a bare `load_template` resolve the template.
LOCAL_PARAMETER_VALUES: dict[str, str] = {
    "Stage": "dev",
    "GhlClientId": "sbxapp-sandbox",  # the GHL sandbox's default app
    "RankrApiBaseUrl": "https://api.rankr.example",
    "AlarmEmail": "alarms@rankr-ghl.localhost",
}

PSEUDO_PARAMETERS: dict[str, Any] = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::Partition": PARTITION,
    "AWS::URLSuffix": URL_SUFFIX,
    "AWS::StackName": STACK_NAME,
    "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT_ID}:stack/{STACK_NAME}/local",
    "AWS::NotificationARNs": [],
}


class TemplateError(ValueError):
    """The template uses something the local runtime cannot resolve."""


class _NoValue:
    """Marker for `AWS::NoValue`: the enclosing key/list item disappears."""


NO_VALUE = _NoValue()


@dataclass(frozen=True)
class HttpRoute:
    event_name: str
    method: str  # upper case; "ANY" matches every method
    path: str  # API Gateway path template, e.g. /contacts/{id} or /{proxy+}
    api_id: str | None  # logical id of the HttpApi (None = implicit API)

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class SqsSource:
    event_name: str
    queue: str  # logical id of the queue
    queue_arn: str
    batch_size: int
    batching_window_s: float
    function_response_types: tuple[str, ...]
    enabled: bool = True
    maximum_concurrency: int | None = None

    @property
    def report_batch_item_failures(self) -> bool:
        return "ReportBatchItemFailures" in self.function_response_types


@dataclass(frozen=True)
class ScheduleSpec:
    function: str  # logical id of the target function
    event_name: str
    name: str  # the Scheduler schedule name
    expression: str  # rate(...) / cron(...) / at(...)
    input: str | None  # passed as the event, verbatim (JSON text)
    enabled: bool
    timezone: str | None
    maximum_retry_attempts: int | None
    maximum_event_age_s: int | None
    dead_letter_queue: str | None  # logical id


@dataclass(frozen=True)
class EventInvokeConfig:
    maximum_retry_attempts: int = 2
    maximum_event_age_s: int = 21600
    on_failure: str | None = None  # logical id of the destination queue
    on_failure_arn: str | None = None
    on_success: str | None = None
    on_success_arn: str | None = None


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    name: str  # physical function name
    arn: str
    code_uri: Path
    handler: str  # module.function
    runtime: str
    env: dict[str, str]
    timeout_s: int
    memory_mb: int
    layers: tuple[Path, ...]  # content dirs of the template's layers, in order
    routes: tuple[HttpRoute, ...]
    sqs_sources: tuple[SqsSource, ...]
    schedules: tuple[ScheduleSpec, ...]
    event_invoke: EventInvokeConfig
    alias: str | None  # AutoPublishAlias
    # Further aliases (AWS::Lambda::Alias resources) and the AWS::Lambda::EventInvokeConfig of a
    # qualifier, both read from the template.
    extra_aliases: tuple[str, ...] = ()
    qualifier_event_invoke: Mapping[str, EventInvokeConfig] = field(default_factory=dict)

    @property
    def alias_arn(self) -> str | None:
        return f"{self.arn}:{self.alias}" if self.alias else None

    @property
    def aliases(self) -> tuple[str, ...]:
        return ((self.alias,) if self.alias else ()) + self.extra_aliases

    def event_invoke_for(self, invoked_arn: str) -> EventInvokeConfig:
        """The async settings of an invocation of `invoked_arn` (the qualifier's own, else the function's)."""
        qualifier = invoked_arn[len(self.arn) :].lstrip(":")
        return self.qualifier_event_invoke.get(qualifier, self.event_invoke)


@dataclass(frozen=True)
class TableSpec:
    logical_id: str
    name: str
    arn: str
    key_schema: list[dict[str, str]]
    attribute_definitions: list[dict[str, str]]
    global_secondary_indexes: list[dict[str, Any]]
    local_secondary_indexes: list[dict[str, Any]]
    ttl_attribute: str | None
    billing_mode: str
    stream_view_type: str | None


@dataclass(frozen=True)
class QueueSpec:
    logical_id: str
    name: str
    arn: str
    url: str
    fifo: bool
    content_based_deduplication: bool
    visibility_timeout_s: int
    message_retention_s: int | None
    delay_s: int
    receive_wait_s: int
    deduplication_scope: str | None
    fifo_throughput_limit: str | None
    dead_letter_queue: str | None  # logical id
    max_receive_count: int | None

    def create_attributes(self, dlq_arn: str | None = None) -> dict[str, str]:
        """The CreateQueue attributes (RedrivePolicy needs the DLQ's real ARN)."""
        attrs = {"VisibilityTimeout": str(self.visibility_timeout_s), "DelaySeconds": str(self.delay_s)}
        if self.receive_wait_s:
            attrs["ReceiveMessageWaitTimeSeconds"] = str(self.receive_wait_s)
        if self.message_retention_s is not None:
            attrs["MessageRetentionPeriod"] = str(self.message_retention_s)
        if self.fifo:
            attrs["FifoQueue"] = "true"
            attrs["ContentBasedDeduplication"] = "true" if self.content_based_deduplication else "false"
            if self.deduplication_scope:
                attrs["DeduplicationScope"] = self.deduplication_scope
            if self.fifo_throughput_limit:
                attrs["FifoThroughputLimit"] = self.fifo_throughput_limit
        if self.dead_letter_queue and self.max_receive_count:
            attrs["RedrivePolicy"] = json.dumps(
                {"deadLetterTargetArn": dlq_arn or "", "maxReceiveCount": self.max_receive_count}
            )
        return attrs


@dataclass(frozen=True)
class SecretSpec:
    logical_id: str
    name: str
    arn: str
    secret_string: str | None
    generate: dict[str, Any] | None  # GenerateSecretString properties
    description: str | None


@dataclass(frozen=True)
class ApiSpec:
    logical_id: str
    api_id: str
