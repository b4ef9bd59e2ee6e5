"""Intrinsic functions of `template.yaml` (`!Ref`, `!GetAtt`, `!Sub`, `!If`, conditions, parameters)
resolved against local physical resources. `template.py` builds the specs on top of this."""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rankr_ghl_tools.local.template_specs import (
    ACCOUNT_ID,
    LOCAL_API_ID,
    LOCAL_PARAMETER_VALUES,
    NO_VALUE,
    PARTITION,
    PSEUDO_PARAMETERS,
    REGION,
    STACK_NAME,
    URL_SUFFIX,
    TemplateError,
)


def plain(node: Any) -> Any:
    """cfn-lint node classes -> plain dict/list/str (so copies and equality are boring)."""
    if isinstance(node, dict):
        return {str(k): plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    return node


_SUB_RE = re.compile(r"\$\{([^}]+)\}")


class TemplateIntrinsics:
    """Parameters, conditions, physical ids and intrinsics of one decoded template."""

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

    def _function_ref(self, node: Any, owner: str) -> str:
        """The logical id of the function `node` (`!Ref Function`) names."""
        ref = node.get("Ref") if isinstance(node, dict) else None
        if not isinstance(ref, str) or ref not in self.resources:
            raise TemplateError(f"{owner}: FunctionName must be !Ref of a function of this template")
        return ref
