"""Read `template.yaml` into plain specs the local runtime acts on.

The template is the single source of truth: tables, queues, secrets, functions, their events and
environment all come from here, with intrinsics (`!Ref`, `!GetAtt`, `!Sub`, `!If`, ...) resolved
against *local* physical resources (table names, queue URLs, secret ARNs). The embedded AWS creates
the resources, then rebinds the template to the physical ids it actually got (`Template.rebind`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rankr_ghl_tools.local.template_intrinsics import TemplateIntrinsics, plain
from rankr_ghl_tools.local.template_specs import (
    ACCOUNT_ID,
    LOCAL_API_ID,
    LOCAL_PARAMETER_VALUES,
    REGION,
    URL_SUFFIX,
    ApiSpec,
    EventInvokeConfig,
    FunctionSpec,
    HttpRoute,
    QueueSpec,
    ScheduleSpec,
    SecretSpec,
    SqsSource,
    TableSpec,
    TemplateError,
)

# The runtime's modules import the specs from here, the module that reads the template.
__all__ = [
    "ACCOUNT_ID",
    "LOCAL_API_ID",
    "LOCAL_PARAMETER_VALUES",
    "REGION",
    "URL_SUFFIX",
    "ApiSpec",
    "EventInvokeConfig",
    "FunctionSpec",
    "HttpRoute",
    "QueueSpec",
    "ScheduleSpec",
    "SecretSpec",
    "SqsSource",
    "TableSpec",
    "Template",
    "TemplateError",
    "load_template",
]


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
    raw = plain(decoded)
    return _Resolver(path, raw, dict(parameter_overrides or {}), physical_overrides or {}).build()


class _Resolver(TemplateIntrinsics):
    """The specs the local runtime acts on, built from the resolved template."""

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
