"""Read `template.yaml` into plain specs the local runtime acts on.

The template is the single source of truth: tables, queues, secrets, functions, their events and
environment all come from here, with intrinsics (`!Ref`, `!GetAtt`, `!Sub`, `!If`, ...) resolved
against *local* physical resources (table names, queue URLs, secret ARNs). The embedded AWS creates
the resources, then rebinds the template to the physical ids it actually got (`Template.rebind`).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
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


@dataclass
class Template:
    path: Path
    root: Path
    parameters: dict[str, str]
    parameter_overrides: dict[str, str]
    conditions: dict[str, bool]
    functions: dict[str, FunctionSpec]
    tables: dict[str, TableSpec]
    queues: dict[str, QueueSpec]
    secrets: dict[str, SecretSpec]
    apis: dict[str, ApiSpec]
    schedules: dict[str, ScheduleSpec]  # by schedule name
    outputs: dict[str, Any]
    physical: dict[str, dict[str, str]]  # logical id -> {"Ref": ..., "Arn": ..., ...}
    raw: dict[str, Any] = field(repr=False)
    physical_overrides: dict[str, dict[str, str]] = field(default_factory=dict, repr=False)

    def rebind(self, physical_overrides: Mapping[str, Mapping[str, str]]) -> Template:
        """The same template resolved against other physical ids (e.g. the ARNs moto generated)."""
        merged = {k: dict(v) for k, v in self.physical_overrides.items()}
        for logical_id, attrs in physical_overrides.items():
            merged.setdefault(logical_id, {}).update(attrs)
        return load_template(self.path, self.parameter_overrides, physical_overrides=merged)

    def function(self, ref: str) -> FunctionSpec:
        """Find a function by logical id, physical name, ARN or alias ARN."""
        if ref in self.functions:
            return self.functions[ref]
        for spec in self.functions.values():
            if ref in (spec.name, spec.arn, spec.alias_arn) or ref.startswith(spec.arn + ":"):
                return spec
        raise KeyError(ref)

    def queue_by_arn(self, arn: str) -> QueueSpec:
        for spec in self.queues.values():
            if spec.arn == arn:
                return spec
        raise KeyError(arn)


def load_template(
    path: str | Path = "template.yaml",
    parameter_overrides: Mapping[str, str] | None = None,
    *,
    physical_overrides: Mapping[str, Mapping[str, str]] | None = None,
) -> Template:
    """Decode `path` with cfn-lint and resolve it against local physical resources.

    `physical_overrides` replaces computed attributes per logical id, e.g.
    `{"WebhookQueue": {"Ref": "http://127.0.0.1:5000/123456789012/q.fifo"}}`.
    """
    from cfnlint.decode import decode  # heavy import: only when a template is read

    path = Path(path).resolve()
    decoded, errors = decode(str(path))
    if errors or decoded is None:
        raise TemplateError(f"cannot decode {path}: {[str(e) for e in errors]}")
    raw = _plain(decoded)
    return _Resolver(path, raw, dict(parameter_overrides or {}), physical_overrides or {}).build()


def _plain(node: Any) -> Any:
    """cfn-lint node classes -> plain dict/list/str (so copies and equality are boring)."""
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    return node


_SUB_RE = re.compile(r"\$\{([^}]+)\}")


class _Resolver:
    def __init__(
        self,
        path: Path,
        raw: dict[str, Any],
        overrides: dict[str, str],
        physical_overrides: Mapping[str, Mapping[str, str]],
    ) -> None:
        self.path = path
        self.root = path.parent
        self.raw = raw
        self.overrides = overrides
        self.physical_overrides = {k: dict(v) for k, v in physical_overrides.items()}
        self.resources: dict[str, Any] = raw.get("Resources", {})
        self.parameters = self._parameters()
        self.conditions: dict[str, bool] = {}
        for name in raw.get("Conditions", {}):
            self._condition(name)
        self.physical = self._physical()

    # -- parameters and conditions -------------------------------------------------------------
    def _parameters(self) -> dict[str, str]:
        declared = self.raw.get("Parameters", {})
        unknown = set(self.overrides) - set(declared)
        if unknown:
            raise TemplateError(f"parameter overrides for undeclared parameters: {sorted(unknown)}")
        values: dict[str, str] = {}
        for name, spec in declared.items():
            if name in self.overrides:
                value = str(self.overrides[name])
            elif "Default" in spec:
                value = str(spec["Default"])
            elif name in LOCAL_PARAMETER_VALUES:
                value = LOCAL_PARAMETER_VALUES[name]
            else:
                raise TemplateError(f"parameter {name} has no Default and no override")
            allowed = spec.get("AllowedValues")
            if allowed is not None and value not in [str(a) for a in allowed]:
                raise TemplateError(f"parameter {name}={value!r} not in AllowedValues {allowed}")
            values[name] = value
        return values

    def _condition(self, name: str) -> bool:
        if name not in self.conditions:
            definition = self.raw.get("Conditions", {}).get(name)
            if definition is None:
                raise TemplateError(f"unknown condition {name}")
            self.conditions[name] = bool(self.resolve(definition))
        return self.conditions[name]

    def _active(self, logical_id: str) -> bool:
        condition = self.resources[logical_id].get("Condition")
        return condition is None or self._condition(condition)

    # -- physical ids ----------------------------------------------------------------------------
    def _physical(self) -> dict[str, dict[str, str]]:
        """Ref/GetAtt values per resource. Names may themselves use !Sub on parameters."""
        physical: dict[str, dict[str, str]] = {}
        self.physical = physical  # names may reference parameters only; resolve lazily below
        for logical_id, res in self.resources.items():
            attrs = self._physical_for(logical_id, res)
            attrs.update(self.physical_overrides.get(logical_id, {}))
            physical[logical_id] = attrs
        return physical

    def _name(self, props: dict[str, Any], key: str, logical_id: str) -> str:
        if key in props:
            return str(self.resolve(props[key]))
        return f"{STACK_NAME}-{logical_id}"

    def _physical_for(self, logical_id: str, res: dict[str, Any]) -> dict[str, str]:
        rtype = res.get("Type", "")
        props = res.get("Properties", {}) or {}
        arn_base = f"arn:{PARTITION}"
        if rtype == "AWS::DynamoDB::Table":
            name = self._name(props, "TableName", logical_id)
            arn = f"{arn_base}:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}"
            return {"Ref": name, "Arn": arn, "StreamArn": f"{arn}/stream/local"}
        if rtype == "AWS::SQS::Queue":
            name = self._name(props, "QueueName", logical_id)
            if props.get("FifoQueue") and not name.endswith(".fifo"):
                name += ".fifo"
            url = f"https://sqs.{REGION}.{URL_SUFFIX}/{ACCOUNT_ID}/{name}"
            arn = f"{arn_base}:sqs:{REGION}:{ACCOUNT_ID}:{name}"
            return {"Ref": url, "QueueUrl": url, "Arn": arn, "QueueName": name}
        if rtype == "AWS::SecretsManager::Secret":
            name = self._name(props, "Name", logical_id)
            arn = f"{arn_base}:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:{name}-local"
            return {"Ref": arn, "Id": arn, "Name": name}
        if rtype in ("AWS::Serverless::Function", "AWS::Lambda::Function"):
            name = self._name(props, "FunctionName", logical_id)
            arn = f"{arn_base}:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"
            attrs = {"Ref": name, "Arn": arn}
            alias = props.get("AutoPublishAlias")
            if alias:
                attrs["Alias"] = f"{arn}:{self.resolve(alias)}"
                attrs["Version"] = f"{arn}:1"
            return attrs
        if rtype == "AWS::Lambda::Alias":  # Ref of an alias is its ARN
            function_id = self._function_ref(props.get("FunctionName"), logical_id)
            function_attrs = self.physical.get(function_id) or self._physical_for(
                function_id, self.resources[function_id]
            )
            function_arn = function_attrs["Arn"]
            return {"Ref": f"{function_arn}:{self.resolve(props['Name'])}"}
        if rtype in ("AWS::Serverless::HttpApi", "AWS::ApiGatewayV2::Api"):
            return {"Ref": LOCAL_API_ID, "ApiEndpoint": "http://127.0.0.1:3000", "ApiId": LOCAL_API_ID}
        if rtype in ("AWS::Serverless::LayerVersion", "AWS::Lambda::LayerVersion"):
            name = self._name(props, "LayerName", logical_id)
            return {"Ref": f"{arn_base}:lambda:{REGION}:{ACCOUNT_ID}:layer:{name}:1"}
        if rtype == "AWS::IAM::ManagedPolicy":
            return {"Ref": f"{arn_base}:iam::{ACCOUNT_ID}:policy/{STACK_NAME}-{logical_id}"}
        if rtype == "AWS::IAM::Role":
            arn = f"{arn_base}:iam::{ACCOUNT_ID}:role/{STACK_NAME}-{logical_id}"
            return {"Ref": f"{STACK_NAME}-{logical_id}", "Arn": arn}
        if rtype == "AWS::SNS::Topic":
            name = self._name(props, "TopicName", logical_id)
            arn = f"{arn_base}:sns:{REGION}:{ACCOUNT_ID}:{name}"
            return {"Ref": arn, "TopicArn": arn, "TopicName": name}
        if rtype == "AWS::Scheduler::ScheduleGroup":
            name = self._name(props, "Name", logical_id)
            return {"Ref": name, "Arn": f"{arn_base}:scheduler:{REGION}:{ACCOUNT_ID}:schedule-group/{name}"}
        if rtype == "AWS::Logs::LogGroup":
            name = self._name(props, "LogGroupName", logical_id)
            return {"Ref": name, "Arn": f"{arn_base}:logs:{REGION}:{ACCOUNT_ID}:log-group:{name}:*"}
        if rtype == "AWS::Events::EventBus":
            name = self._name(props, "Name", logical_id)
            return {
                "Ref": name,
                "Name": name,
                "Arn": f"{arn_base}:events:{REGION}:{ACCOUNT_ID}:event-bus/{name}",
            }
        generic = f"{STACK_NAME}-{logical_id}"
        service = rtype.split("::")[1].lower() if rtype.count("::") >= 2 else "local"
        return {"Ref": generic, "Arn": f"{arn_base}:{service}:{REGION}:{ACCOUNT_ID}:{generic}"}

    # -- intrinsics ------------------------------------------------------------------------------
    def ref(self, name: str) -> Any:
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.parameters:
            return self.parameters[name]
        if "." in name:  # SAM: !Ref Function.Alias / Function.Version
            logical_id, attr = name.split(".", 1)
            return self.get_att(logical_id, attr)
        if name in self.physical:
            return self.physical[name]["Ref"]
        raise TemplateError(f"!Ref to unknown name {name!r}")

    def get_att(self, logical_id: str, attr: str) -> str:
        attrs = self.physical.get(logical_id)
        if attrs is None:
            raise TemplateError(f"!GetAtt on unknown resource {logical_id!r}")
        if attr not in attrs:
            raise TemplateError(f"!GetAtt {logical_id}.{attr}: attribute not supported locally")
        return attrs[attr]

    def sub(self, text: str, variables: Mapping[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            expr = match.group(1)
            if expr.startswith("!"):
                return "${" + expr[1:] + "}"
            if expr in variables:
                return str(variables[expr])
            if "." in expr and expr not in PSEUDO_PARAMETERS and expr.split(".", 1)[0] in self.physical:
                logical_id, attr = expr.split(".", 1)
                return str(self.get_att(logical_id, attr))
            return str(self.ref(expr))

        return _SUB_RE.sub(replace, text)

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            items = [self.resolve(v) for v in node]
            return [v for v in items if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, arg),) = node.items()
            if key == "Ref":
                return self.ref(str(arg))
            if key == "Fn::GetAtt":
                parts = arg.split(".", 1) if isinstance(arg, str) else [self.resolve(a) for a in arg]
                return self.get_att(str(parts[0]), str(parts[1]))
            if key == "Fn::Sub":
                if isinstance(arg, str):
                    return self.sub(arg, {})
                text, variables = arg
                return self.sub(str(self.resolve(text)), self.resolve(variables))
            if key == "Fn::If":
                cond, when_true, when_false = arg
                return self.resolve(when_true if self._condition(cond) else when_false)
            if key == "Fn::Equals":
                left, right = (self.resolve(a) for a in arg)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self.resolve(arg[0])
            if key == "Fn::And":
                return all(self.resolve(a) for a in arg)
            if key == "Fn::Or":
                return any(self.resolve(a) for a in arg)
            if key == "Condition":
                return self._condition(str(arg))
            if key == "Fn::Join":
                sep, items = arg
                return str(sep).join(str(v) for v in self.resolve(items))
            if key == "Fn::Select":
                index, items = arg
                return self.resolve(items)[int(self.resolve(index))]
            if key == "Fn::Split":
                sep, text = arg
                return str(self.resolve(text)).split(str(sep))
            if key == "Fn::Base64":
                return base64.b64encode(str(self.resolve(arg)).encode()).decode()
            if key == "Fn::FindInMap":
                m, k1, k2 = (self.resolve(a) for a in arg)
                return self.raw["Mappings"][m][k1][k2]
            if key == "Fn::GetAZs":
                return [f"{REGION}a", f"{REGION}b", f"{REGION}c"]
            if key == "Fn::ImportValue":
                raise TemplateError(f"Fn::ImportValue is not supported locally: {arg!r}")
        out: dict[str, Any] = {}
        for key, value in node.items():
            resolved = self.resolve(value)
            if resolved is not NO_VALUE:
                out[key] = resolved
        return out

    # -- specs ------------------------------------------------------------------------------------
    def build(self) -> Template:
        globals_fn = self.raw.get("Globals", {}).get("Function", {}) or {}
        tables: dict[str, TableSpec] = {}
        queues: dict[str, QueueSpec] = {}
        secrets: dict[str, SecretSpec] = {}
        apis: dict[str, ApiSpec] = {}
        functions: dict[str, FunctionSpec] = {}
        for logical_id, res in self.resources.items():
            if not self._active(logical_id):
                continue
            rtype = res.get("Type", "")
            if rtype == "AWS::DynamoDB::Table":
                tables[logical_id] = self._table(logical_id, res)
            elif rtype == "AWS::SQS::Queue":
                queues[logical_id] = self._queue(logical_id, res)
            elif rtype == "AWS::SecretsManager::Secret":
                secrets[logical_id] = self._secret(logical_id, res)
            elif rtype in ("AWS::Serverless::HttpApi", "AWS::ApiGatewayV2::Api"):
                apis[logical_id] = ApiSpec(logical_id, self.physical[logical_id]["Ref"])
        for logical_id, res in self.resources.items():
            if self._active(logical_id) and res.get("Type") == "AWS::Serverless::Function":
                functions[logical_id] = self._function(logical_id, res, globals_fn)
        self._qualifiers(functions)
        schedules = {s.name: s for f in functions.values() for s in f.schedules}
        outputs = {}
        for name, out in (self.raw.get("Outputs") or {}).items():
            if out.get("Condition") and not self._condition(out["Condition"]):
                continue
            outputs[name] = self.resolve(out.get("Value"))
        return Template(
            path=self.path,
            root=self.root,
            parameters=dict(self.parameters),
            parameter_overrides=dict(self.overrides),
            conditions=dict(self.conditions),
            functions=functions,
            tables=tables,
            queues=queues,
            secrets=secrets,
            apis=apis,
            schedules=schedules,
            outputs=outputs,
            physical=self.physical,
            raw=self.raw,
            physical_overrides=self.physical_overrides,
        )

    def _logical_from_arn(self, node: Any, kind: str) -> str:
        """`!GetAtt Q.Arn` -> "Q"; a literal ARN is looked up among the physical ids."""
        if isinstance(node, dict) and "Fn::GetAtt" in node:
            arg = node["Fn::GetAtt"]
            return str(arg.split(".", 1)[0] if isinstance(arg, str) else arg[0])
        arn = self.resolve(node)
        for logical_id, attrs in self.physical.items():
            if attrs.get("Arn") == arn or attrs.get("Ref") == arn:
                return logical_id
        raise TemplateError(f"{kind} {arn!r} is not a resource of this template")

    def _table(self, logical_id: str, res: dict[str, Any]) -> TableSpec:
        props = self.resolve(res.get("Properties", {}))
        ttl = props.get("TimeToLiveSpecification") or {}
        stream = props.get("StreamSpecification") or {}
        return TableSpec(
            logical_id=logical_id,
            name=self.physical[logical_id]["Ref"],
            arn=self.physical[logical_id]["Arn"],
            key_schema=props["KeySchema"],
            attribute_definitions=props["AttributeDefinitions"],
            global_secondary_indexes=props.get("GlobalSecondaryIndexes", []),
            local_secondary_indexes=props.get("LocalSecondaryIndexes", []),
            ttl_attribute=ttl.get("AttributeName") if _truthy(ttl.get("Enabled", False)) else None,
            billing_mode=props.get("BillingMode", "PROVISIONED"),
            stream_view_type=stream.get("StreamViewType"),
        )

    def _queue(self, logical_id: str, res: dict[str, Any]) -> QueueSpec:
        raw_props = res.get("Properties", {}) or {}
        props = self.resolve(raw_props)
        redrive = props.get("RedrivePolicy")
        if isinstance(redrive, str):
            redrive = json.loads(redrive)
        dlq = None
        max_receive = None
        if redrive:
            raw_redrive = raw_props.get("RedrivePolicy", {})
            target = raw_redrive.get("deadLetterTargetArn") if isinstance(raw_redrive, dict) else None
            dlq = self._logical_from_arn(
                target if target is not None else redrive["deadLetterTargetArn"], "DLQ"
            )
            max_receive = int(redrive["maxReceiveCount"])
        attrs = self.physical[logical_id]
        return QueueSpec(
            logical_id=logical_id,
            name=attrs["QueueName"],
            arn=attrs["Arn"],
            url=attrs["Ref"],
            fifo=_truthy(props.get("FifoQueue", False)),
            content_based_deduplication=_truthy(props.get("ContentBasedDeduplication", False)),
            visibility_timeout_s=int(props.get("VisibilityTimeout", 30)),
            message_retention_s=int(props["MessageRetentionPeriod"])
            if "MessageRetentionPeriod" in props
            else None,
            delay_s=int(props.get("DelaySeconds", 0)),
            receive_wait_s=int(props.get("ReceiveMessageWaitTimeSeconds", 0)),
            deduplication_scope=props.get("DeduplicationScope"),
            fifo_throughput_limit=props.get("FifoThroughputLimit"),
            dead_letter_queue=dlq,
            max_receive_count=max_receive,
        )

    def _secret(self, logical_id: str, res: dict[str, Any]) -> SecretSpec:
        props = self.resolve(res.get("Properties", {}))
        return SecretSpec(
            logical_id=logical_id,
            name=self.physical[logical_id]["Name"],
            arn=self.physical[logical_id]["Ref"],
            secret_string=props.get("SecretString"),
            generate=props.get("GenerateSecretString"),
            description=props.get("Description"),
        )

    def _layer_dirs(self, layers: list[Any]) -> tuple[Path, ...]:
        dirs: list[Path] = []
        for layer in layers:
            if isinstance(layer, dict) and "Ref" in layer and layer["Ref"] in self.resources:
                props = self.resources[layer["Ref"]].get("Properties", {})
                content = self.resolve(props.get("ContentUri", ""))
                if isinstance(content, str) and content:
                    dirs.append((self.root / content).resolve())
                    continue
            raise TemplateError(f"layer {layer!r} is not a local LayerVersion of this template")
        return tuple(dirs)

    def _function(self, logical_id: str, res: dict[str, Any], globals_fn: dict[str, Any]) -> FunctionSpec:
        raw_props = _merge_globals(globals_fn, res.get("Properties", {}) or {})
        layers = self._layer_dirs(raw_props.get("Layers", []))
        props = self.resolve(
            {k: v for k, v in raw_props.items() if k not in ("Events", "Layers", "Policies")}
        )
        env = {k: _env_str(v) for k, v in ((props.get("Environment") or {}).get("Variables") or {}).items()}
        attrs = self.physical[logical_id]
        code_uri = props.get("CodeUri")
        if not isinstance(code_uri, str):
            raise TemplateError(f"{logical_id}: CodeUri must be a local directory, got {code_uri!r}")
        routes: list[HttpRoute] = []
        sqs_sources: list[SqsSource] = []
        schedules: list[ScheduleSpec] = []
        for event_name, event in (raw_props.get("Events") or {}).items():
            etype = event.get("Type")
            raw_eprops = event.get("Properties", {}) or {}
            eprops = self.resolve(raw_eprops)
            if etype in ("HttpApi", "Api"):
                api = raw_eprops.get("ApiId") or raw_eprops.get("RestApiId")
                api_id = api["Ref"] if isinstance(api, dict) and "Ref" in api else None
                method = str(eprops.get("Method", "ANY")).upper()
                path = str(eprops.get("Path", "$default"))
                routes.append(
                    HttpRoute(
                        event_name,
                        "ANY" if method in ("ANY", "X-AMAZON-APIGATEWAY-ANY-METHOD") else method,
                        path,
                        api_id,
                    )
                )
            elif etype == "SQS":
                queue = self._logical_from_arn(raw_eprops["Queue"], "SQS event source")
                scaling = eprops.get("ScalingConfig") or {}
                sqs_sources.append(
                    SqsSource(
                        event_name=event_name,
                        queue=queue,
                        queue_arn=str(eprops["Queue"]),
                        batch_size=int(eprops.get("BatchSize", 10)),
                        batching_window_s=float(eprops.get("MaximumBatchingWindowInSeconds", 0)),
                        function_response_types=tuple(eprops.get("FunctionResponseTypes", [])),
                        enabled=_truthy(eprops.get("Enabled", True)),
                        maximum_concurrency=scaling.get("MaximumConcurrency"),
                    )
                )
            elif etype in ("ScheduleV2", "Schedule"):
                expression = eprops.get("ScheduleExpression") or eprops.get("Schedule")
                retry = eprops.get("RetryPolicy") or {}
                dlq_cfg = raw_eprops.get("DeadLetterConfig") or {}
                dlq = self._logical_from_arn(dlq_cfg["Arn"], "schedule DLQ") if "Arn" in dlq_cfg else None
                state = eprops.get("State", "ENABLED")
                enabled = state == "ENABLED" if "State" in eprops else _truthy(eprops.get("Enabled", True))
                schedules.append(
                    ScheduleSpec(
                        function=logical_id,
                        event_name=event_name,
                        name=str(eprops.get("Name") or f"{logical_id}{event_name}"),
                        expression=str(expression),
                        input=eprops.get("Input"),
                        enabled=enabled,
                        timezone=eprops.get("ScheduleExpressionTimezone"),
                        maximum_retry_attempts=retry.get("MaximumRetryAttempts"),
                        maximum_event_age_s=retry.get("MaximumEventAgeInSeconds"),
                        dead_letter_queue=dlq,
                    )
                )
            else:
                raise TemplateError(f"{logical_id}.{event_name}: event type {etype} not supported locally")
        return FunctionSpec(
            logical_id=logical_id,
            name=attrs["Ref"],
            arn=attrs["Arn"],
            code_uri=(self.root / code_uri).resolve(),
            handler=str(props["Handler"]),
            runtime=str(props.get("Runtime", "")),
            env=env,
            timeout_s=int(props.get("Timeout", 3)),
            memory_mb=int(props.get("MemorySize", 128)),
            layers=layers,
            routes=tuple(routes),
            sqs_sources=tuple(sqs_sources),
            schedules=tuple(schedules),
            event_invoke=self._event_invoke(raw_props.get("EventInvokeConfig")),
            alias=str(props["AutoPublishAlias"]) if props.get("AutoPublishAlias") else None,
        )

    def _function_ref(self, node: Any, owner: str) -> str:
        """The logical id of the function `node` (`!Ref Function`) names."""
        ref = node.get("Ref") if isinstance(node, dict) else None
        if not isinstance(ref, str) or ref not in self.resources:
            raise TemplateError(f"{owner}: FunctionName must be !Ref of a function of this template")
        return ref

    def _qualifiers(self, functions: dict[str, FunctionSpec]) -> None:
        """AWS::Lambda::Alias resources and per-qualifier EventInvokeConfigs, put on their function."""
        for logical_id, res in self.resources.items():
            rtype = res.get("Type")
            if not self._active(logical_id) or rtype not in (
                "AWS::Lambda::Alias",
                "AWS::Lambda::EventInvokeConfig",
            ):
                continue
            raw_props = res.get("Properties", {}) or {}
            function_id = self._function_ref(raw_props.get("FunctionName"), logical_id)
            fn = functions.get(function_id)
            if fn is None:
                raise TemplateError(f"{logical_id}: {function_id} is not a function the local runtime serves")
            if rtype == "AWS::Lambda::Alias":
                name = str(self.resolve(raw_props["Name"]))
                functions[function_id] = replace(fn, extra_aliases=(*fn.extra_aliases, name))
            else:
                qualifier = str(self.resolve(raw_props["Qualifier"]))
                configs = {**fn.qualifier_event_invoke, qualifier: self._event_invoke(raw_props)}
                functions[function_id] = replace(fn, qualifier_event_invoke=configs)

    def _event_invoke(self, raw: Any) -> EventInvokeConfig:
        if not raw:
            return EventInvokeConfig()
        cfg = self.resolve(raw)
        destinations = raw.get("DestinationConfig") or {}

        def destination(kind: str) -> tuple[str | None, str | None]:
            dest = destinations.get(kind)
            if not dest or "Destination" not in dest:
                return None, None
            return self._logical_from_arn(dest["Destination"], f"{kind} destination"), str(
                self.resolve(dest["Destination"])
            )

        on_failure, on_failure_arn = destination("OnFailure")
        on_success, on_success_arn = destination("OnSuccess")
        return EventInvokeConfig(
            maximum_retry_attempts=int(cfg.get("MaximumRetryAttempts", 2)),
            maximum_event_age_s=int(cfg.get("MaximumEventAgeInSeconds", 21600)),
            on_failure=on_failure,
            on_failure_arn=on_failure_arn,
            on_success=on_success,
            on_success_arn=on_success_arn,
        )


def _merge_globals(globals_fn: dict[str, Any], props: dict[str, Any]) -> dict[str, Any]:
    """SAM's Globals merge: maps merge recursively, lists append, scalars are overridden."""
    merged: dict[str, Any] = dict(globals_fn)
    for key, value in props.items():
        base = merged.get(key)
        if isinstance(base, dict) and isinstance(value, dict) and not _is_intrinsic(value):
            merged[key] = _merge_globals(base, value)
        elif isinstance(base, list) and isinstance(value, list):
            merged[key] = base + value
        else:
            merged[key] = value
    return merged


def _is_intrinsic(node: dict[str, Any]) -> bool:
    return len(node) == 1 and next(iter(node)).startswith(("Fn::", "Ref"))


def _truthy(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _env_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
