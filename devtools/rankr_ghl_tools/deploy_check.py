"""`make deploy-check`: an offline rehearsal of a real deploy (docs/deploy.md).

The template is translated with SAM's own translator for every samconfig environment, and the
result is held to what a deploy needs: stage-unique physical names, Retain on state, alarms that
reach a person, an on-failure destination for every function invoked asynchronously, and a clean
cfn-lint run with informational rules. samconfig must set every required parameter per
environment; a `FILL-ME-...` value is reported as work left to the operator, and refused outright
for the environment named with `--env` (the one about to be deployed).
"""

from __future__ import annotations

import argparse
import copy
import logging
import re
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from rankr_ghl_tools.deploy_samconfig import Environment, Report, check_samconfig, load_environments

ROOT = Path(__file__).resolve().parents[2]
STATEFUL_TYPES = ("AWS::DynamoDB::Table", "AWS::SecretsManager::Secret", "AWS::SQS::Queue")
ACCOUNT_ID = "ACCOUNT"
# Physical-name properties of the resource types whose names are unique per account and region.
NAME_PROPERTIES: dict[str, tuple[str, ...]] = {
    "AWS::DynamoDB::Table": ("TableName",),
    "AWS::SQS::Queue": ("QueueName",),
    "AWS::SecretsManager::Secret": ("Name",),
    "AWS::Lambda::Function": ("FunctionName",),
    "AWS::Lambda::LayerVersion": ("LayerName",),
    "AWS::Logs::LogGroup": ("LogGroupName",),
    "AWS::Scheduler::ScheduleGroup": ("Name",),
    "AWS::Scheduler::Schedule": ("GroupName", "Name"),
    "AWS::CloudWatch::Alarm": ("AlarmName",),
    "AWS::CloudWatch::Dashboard": ("DashboardName",),
    "AWS::SNS::Topic": ("TopicName",),
    "AWS::IAM::Role": ("RoleName",),
    "AWS::IAM::ManagedPolicy": ("ManagedPolicyName",),
    "AWS::Events::Rule": ("Name",),
    "AWS::KMS::Alias": ("AliasName",),
}
# Types with no account-wide physical name (scoped to a parent resource, or always generated).
UNNAMED_TYPES = {
    "AWS::Lambda::Permission",
    "AWS::Lambda::EventSourceMapping",
    "AWS::Lambda::Version",
    "AWS::Lambda::Alias",
    "AWS::Lambda::EventInvokeConfig",
    "AWS::ApiGatewayV2::Api",
    "AWS::ApiGatewayV2::Stage",
    "AWS::SNS::Subscription",
    "AWS::SNS::TopicPolicy",
    "AWS::SQS::QueuePolicy",
    "AWS::KMS::Key",
}
# API Gateway access-log variables that never carry a query string, a body or a caller's identity.
ACCESS_LOG_VARIABLES = {
    "requestId",
    "requestTime",
    "requestTimeEpoch",
    "httpMethod",
    "path",
    "routeKey",
    "status",
    "protocol",
    "responseLength",
    "responseLatency",
    "integrationStatus",
    "integrationLatency",
    "integrationErrorMessage",
    "error.message",
    "domainName",
    "stage",
}


# -- translation and intrinsics -------------------------------------------------------------------
def decode_template(path: Path) -> dict[str, Any]:
    from cfnlint.decode import decode

    decoded, errors = decode(str(path))
    if errors or decoded is None:
        raise ValueError(f"cannot decode {path}: {[str(e) for e in errors]}")
    return dict(_plain(decoded))


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    return str(node) if isinstance(node, str) else node


def translate(template: Mapping[str, Any], env: Environment) -> dict[str, Any]:
    """The CloudFormation SAM would deploy for `env` (local code paths stand in as S3 URIs)."""
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    logging.getLogger("samtranslator.metrics").setLevel(logging.ERROR)  # offline: nothing to publish
    sam = copy.deepcopy(dict(template))
    for resource in sam.get("Resources", {}).values():
        props = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str):
                props[key] = f"s3://deploy-check/{props[key].strip('/')}"
    session = boto3.session.Session(
        region_name=env.region or "us-east-1", aws_access_key_id="offline", aws_secret_access_key="offline"
    )
    translator = Translator(managed_policy_map={}, sam_parser=Parser(), boto_session=session)
    result: dict[str, Any] = translator.translate(sam_template=sam, parameter_values=dict(env.parameters))
    return result


class Resolver:
    """Evaluates intrinsics for one stack; what CloudFormation generates stays a stack-tagged token."""

    def __init__(self, template: Mapping[str, Any], env: Environment) -> None:
        self.template = template
        self.env = env
        self.values: dict[str, Any] = {
            name: spec.get("Default") for name, spec in template.get("Parameters", {}).items()
        }
        self.values.update(env.parameters)
        self.values.update(
            {
                "AWS::StackName": env.stack_name,
                "AWS::Region": env.region,
                "AWS::AccountId": ACCOUNT_ID,
                "AWS::Partition": "aws",
                "AWS::URLSuffix": "amazonaws.com",
            }
        )

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self.template.get("Conditions", {})[name]))

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.resolve(v) for v in node]
        if not isinstance(node, dict):
            return node
        if len(node) != 1 or not next(iter(node)).startswith(("Ref", "Fn::", "Condition")):
            return {key: self.resolve(value) for key, value in node.items()}
        ((key, arg),) = node.items()
        if key == "Ref":
            return self.values.get(arg, f"<{self.env.stack_name}:{arg}>")
        if key == "Fn::GetAtt":
            parts = arg.split(".", 1) if isinstance(arg, str) else arg
            return f"<{self.env.stack_name}:{parts[0]}.{parts[1]}>"
        if key == "Fn::Sub":
            text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))
            return re.sub(r"\$\{([^}!]+)\}", lambda m: self._sub(m.group(1), variables), text)
        if key == "Fn::Join":
            return str(arg[0]).join(str(v) for v in self.resolve(arg[1]))
        if key == "Fn::If":
            return self.resolve(arg[1] if self.condition(arg[0]) else arg[2])
        if key == "Fn::Equals":
            return str(self.resolve(arg[0])) == str(self.resolve(arg[1]))
        if key == "Fn::Not":
            return not self.resolve(arg[0])
        if key == "Condition":
            return self.condition(arg)
        return node

    def _sub(self, expr: str, variables: Mapping[str, Any]) -> str:
        if expr in variables:
            return str(variables[expr])
        if expr in self.values:
            return str(self.values[expr])
        if "." in expr:
            return str(self.resolve({"Fn::GetAtt": expr}))
        return str(self.resolve({"Ref": expr}))


# -- checks over the translated stacks ------------------------------------------------------------
def physical_names(translated: Mapping[str, Any], resolver: Resolver, report: Report) -> dict[str, str]:
    """Account-wide physical names (name -> logical id); generated names are left out (unique)."""
    names: dict[str, str] = {}
    for logical_id, resource in translated["Resources"].items():
        rtype = resource["Type"]
        props = resource.get("Properties") or {}
        if rtype in UNNAMED_TYPES:
            continue
        if rtype not in NAME_PROPERTIES:
            report.fail(f"{logical_id}: resource type {rtype} is not classified in deploy_check")
            continue
        keys = NAME_PROPERTIES[rtype]
        if rtype == "AWS::Scheduler::Schedule":  # unique per group; a missing group is "default"
            group = resolver.resolve(props.get("GroupName", "default"))
            names[f"{rtype} {group}/{resolver.resolve(props.get('Name', logical_id))}"] = logical_id
        elif keys[0] in props:
            names[f"{rtype} {resolver.resolve(props[keys[0]])}"] = logical_id
    for name, output in (translated.get("Outputs") or {}).items():
        if "Export" in output:
            names[f"Export {resolver.resolve(output['Export']['Name'])}"] = f"Outputs.{name}"
    return names


def check_stage_unique_names(stacks: Mapping[str, tuple[dict[str, Any], Resolver]], report: Report) -> None:
    seen: dict[str, str] = {}
    for env_name, (translated, resolver) in stacks.items():
        for name, logical_id in physical_names(translated, resolver, report).items():
            if name in seen:
                report.fail(f"{name} ({logical_id}) is created by both {seen[name]} and {env_name}")
            else:
                seen[name] = env_name


def check_retain(translated: Mapping[str, Any], resolver: Resolver, report: Report) -> None:
    prod = resolver.values.get("Stage") == "prod"
    for logical_id, resource in translated["Resources"].items():
        if resource["Type"] not in STATEFUL_TYPES:
            continue
        for policy in ("DeletionPolicy", "UpdateReplacePolicy"):
            if resource.get(policy) != "Retain":
                report.fail(f"{logical_id}: {policy} must be Retain (it holds data)")
        props = resource.get("Properties") or {}
        protected = resolver.resolve(props.get("DeletionProtectionEnabled", False)) is True
        if prod and resource["Type"] == "AWS::DynamoDB::Table" and not protected:
            report.fail(f"{logical_id}: DeletionProtectionEnabled must be true in prod")


def _statements(document: Any) -> list[dict[str, Any]]:
    statements = (document or {}).get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _allows(statement: Mapping[str, Any], service: str, action: str) -> bool:
    if statement.get("Effect") != "Allow":
        return False
    principal = statement.get("Principal") or {}
    services = _as_list(principal.get("Service", [])) if isinstance(principal, dict) else []
    if service not in services and principal != "*":
        return False
    actions = [str(a) for a in _as_list(statement.get("Action", []))]
    return any(re.fullmatch(a.replace("*", ".*"), action) for a in actions)


def _ref_target(node: Any) -> str | None:
    if isinstance(node, dict) and "Ref" in node:
        return str(node["Ref"])
    if isinstance(node, dict) and "Fn::GetAtt" in node:
        arg = node["Fn::GetAtt"]
        return str(arg.split(".")[0] if isinstance(arg, str) else arg[0])
    return None


def check_alarm_topics(translated: Mapping[str, Any], report: Report) -> None:
    resources = translated["Resources"]
    topics: set[str] = set()
    for logical_id, resource in resources.items():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        props = resource["Properties"]
        actions = [a for key in ("AlarmActions", "OKActions") for a in props.get(key, [])]
        if not actions:
            report.fail(f"{logical_id}: the alarm has no action, so it notifies no one")
        for action in actions:
            target = _ref_target(action)
            if target is None or resources.get(target, {}).get("Type") != "AWS::SNS::Topic":
                report.fail(f"{logical_id}: alarm action {action!r} is not a topic of this stack")
            else:
                topics.add(target)
    for topic in sorted(topics):
        _check_topic(topic, resources, report)


def _check_topic(topic: str, resources: Mapping[str, Any], report: Report) -> None:
    key = (resources[topic].get("Properties") or {}).get("KmsMasterKeyId")
    if key is not None:
        key_id = _ref_target(key)
        key_resource = resources.get(key_id or "", {})
        if key_resource.get("Type") != "AWS::KMS::Key":
            report.fail(f"{topic}: encrypted with {key!r}, a key whose policy CloudWatch cannot use")
        else:
            statements = _statements(key_resource["Properties"].get("KeyPolicy"))
            for action in ("kms:Decrypt", "kms:GenerateDataKey"):
                if not any(_allows(s, "cloudwatch.amazonaws.com", action) for s in statements):
                    report.fail(f"{topic}: key {key_id} does not let cloudwatch.amazonaws.com {action}")
    for logical_id, resource in resources.items():
        props = resource.get("Properties") or {}
        if resource["Type"] != "AWS::SNS::TopicPolicy" or topic not in map(_ref_target, props["Topics"]):
            continue
        statements = _statements(props.get("PolicyDocument"))
        if not any(_allows(s, "cloudwatch.amazonaws.com", "sns:Publish") for s in statements):
            report.fail(f"{logical_id}: does not let cloudwatch.amazonaws.com publish to {topic}")
    subscribed = [
        r
        for r in resources.values()
        if r["Type"] == "AWS::SNS::Subscription"
        and _ref_target(r["Properties"].get("TopicArn")) == topic
        and r["Properties"].get("Protocol") == "email"
        and "Condition" not in r
    ]
    if not subscribed:
        report.fail(f"{topic}: no unconditional e-mail subscription, so alarms reach no one")


def async_invoked_functions(translated: Mapping[str, Any]) -> set[str]:
    """Functions a schedule, a rule or an external caller (a policy granting invoke) may call async."""
    found: set[str] = set()
    for resource in translated["Resources"].values():
        props = resource.get("Properties") or {}
        if resource["Type"] == "AWS::Scheduler::Schedule":
            found.add(_ref_target(props["Target"]["Arn"]) or "")
        elif resource["Type"] == "AWS::Events::Rule":
            found.update(_ref_target(t.get("Arn")) or "" for t in props.get("Targets", []))
        elif resource["Type"] == "AWS::IAM::ManagedPolicy":
            for statement in _statements(props.get("PolicyDocument")):
                if "lambda:InvokeFunction" in _as_list(statement.get("Action", [])):
                    found.update(_ref_target(t) or "" for t in _as_list(statement.get("Resource", [])))
    return {name for name in (_function_of(translated, n) for n in found) if name}


def _function_of(translated: Mapping[str, Any], logical_id: str) -> str | None:
    """The function a function, alias or version resource belongs to."""
    resource = translated["Resources"].get(logical_id, {})
    if resource.get("Type") == "AWS::Lambda::Function":
        return logical_id
    if resource.get("Type") in ("AWS::Lambda::Alias", "AWS::Lambda::Version"):
        return _ref_target(resource["Properties"].get("FunctionName"))
    return None


def _async_invoked_aliases(translated: Mapping[str, Any]) -> set[tuple[str, str]]:
    """(function, alias name) of every alias an external caller may invoke (async settings are per
    qualifier: an alias without its own EventInvokeConfig gets no destination)."""
    found: set[tuple[str, str]] = set()
    for resource in translated["Resources"].values():
        if resource["Type"] != "AWS::IAM::ManagedPolicy":
            continue
        for statement in _statements((resource.get("Properties") or {}).get("PolicyDocument")):
            if "lambda:InvokeFunction" not in _as_list(statement.get("Action", [])):
                continue
            for target in _as_list(statement.get("Resource", [])):
                alias = translated["Resources"].get(_ref_target(target) or "", {})
                if alias.get("Type") == "AWS::Lambda::Alias":
                    props = alias["Properties"]
                    found.add((_ref_target(props.get("FunctionName")) or "", str(props.get("Name"))))
    return found


def check_on_failure_destinations(translated: Mapping[str, Any], report: Report) -> None:
    resources = translated["Resources"]
    destinations: dict[tuple[str, str | None], Any] = {}
    for resource in resources.values():
        if resource["Type"] == "AWS::Lambda::EventInvokeConfig":
            props = resource["Properties"]
            on_failure = (props.get("DestinationConfig") or {}).get("OnFailure") or {}
            if "Destination" in on_failure:
                qualifier = props.get("Qualifier")
                key = (_ref_target(props["FunctionName"]) or "", str(qualifier) if qualifier else None)
                destinations[key] = on_failure["Destination"]
    for function, alias in sorted(_async_invoked_aliases(translated)):
        if (function, alias) not in destinations:
            report.fail(
                f"{function}: invoked asynchronously through alias {alias}, "
                "which has no on-failure destination"
            )
    for function in sorted(async_invoked_functions(translated)):
        queues = {_ref_target(d) for (owner, _), d in destinations.items() if owner == function}
        if not queues:
            report.fail(f"{function}: invoked asynchronously but has no on-failure destination")
            continue
        role = _ref_target(resources[function]["Properties"].get("Role"))
        policies = (resources.get(role or "", {}).get("Properties") or {}).get("Policies", [])
        for queue in sorted(q or "" for q in queues):
            granted = [
                s
                for p in policies
                for s in _statements(p.get("PolicyDocument"))
                if "sqs:SendMessage" in _as_list(s.get("Action"))
                and queue in {_ref_target(r) for r in _as_list(s.get("Resource"))}
            ]
            if not granted:
                report.fail(f"{function}: its role may not sqs:SendMessage to its destination {queue}")


def check_logs(translated: Mapping[str, Any], resolver: Resolver, report: Report) -> None:
    resources = translated["Resources"]
    for logical_id, resource in resources.items():
        props = resource.get("Properties") or {}
        if resource["Type"] == "AWS::Lambda::Function":
            group = _ref_target((props.get("LoggingConfig") or {}).get("LogGroup"))
            group_props = resources.get(group or "", {}).get("Properties") or {}
            if "RetentionInDays" not in group_props:
                report.fail(f"{logical_id}: logs to no log group of this stack with a retention")
            env = (props.get("Environment") or {}).get("Variables") or {}
            level = resolver.resolve(env.get("POWERTOOLS_LOG_LEVEL", "INFO"))
            if resolver.values.get("Stage") == "prod" and level != "INFO":
                report.fail(f"{logical_id}: logs at {level} in prod")
        if resource["Type"] == "AWS::ApiGatewayV2::Stage":
            settings = props.get("AccessLogSettings") or {}
            if "Format" not in settings:
                report.fail(f"{logical_id}: the HTTP API has no access log")
            for variable in re.findall(r"\$context\.([\w.]+)", str(settings.get("Format", ""))):
                if variable not in ACCESS_LOG_VARIABLES:
                    report.fail(
                        f"{logical_id}: access log field $context.{variable} may leak query or identity"
                    )


def check_cfn_lint(template_path: Path, config: Path, report: Report) -> None:
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    command = [str(cfn_lint), "--config-file", str(config), "--include-checks", "I", "--", str(template_path)]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        findings = (result.stdout + result.stderr).strip()
        report.fail(f"cfn-lint (informational rules included) reports:\n{findings}")


# -- driver ---------------------------------------------------------------------------------------
TRANSLATED_CHECKS: tuple[Callable[[Mapping[str, Any], Resolver, Report], None], ...] = (
    check_retain,
    lambda translated, _resolver, report: check_alarm_topics(translated, report),
    lambda translated, _resolver, report: check_on_failure_destinations(translated, report),
    check_logs,
)


def run(
    template_path: Path, samconfig: Path, cfnlintrc: Path, deploy_env: str | None, *, lint: bool = True
) -> Report:
    report = Report()
    template = decode_template(template_path)
    environments = load_environments(samconfig)
    check_samconfig(template, environments, deploy_env, report)
    stacks: dict[str, tuple[dict[str, Any], Resolver]] = {}
    for env in environments.values():
        try:
            translated = translate(template, env)
        except Exception as exc:  # the translator's own error text is the finding
            report.fail(f"[{env.name}] SAM cannot translate the template: {exc}")
            continue
        resolver = Resolver(translated, env)
        stacks[env.name] = (translated, resolver)
        for check in TRANSLATED_CHECKS:
            before = len(report.failures)
            check(translated, resolver, report)
            report.failures[before:] = [f"[{env.name}] {f}" for f in report.failures[before:]]
    check_stage_unique_names(stacks, report)
    if lint:
        check_cfn_lint(template_path, cfnlintrc, report)
    return report


def _lines(report: Report) -> Iterator[str]:
    for failure in report.failures:
        yield f"FAIL {failure}"
    for item in report.to_fill:
        yield f"TO FILL before deploying: {item}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="deploy-check", description=__doc__.splitlines()[0])
    parser.add_argument("--template", type=Path, default=ROOT / "template.yaml")
    parser.add_argument("--samconfig", type=Path, default=ROOT / "samconfig.toml")
    parser.add_argument("--cfnlintrc", type=Path, default=ROOT / ".cfnlintrc")
    parser.add_argument("--env", help="the samconfig environment about to be deployed: placeholders fail")
    args = parser.parse_args(argv)
    report = run(args.template, args.samconfig, args.cfnlintrc, args.env)
    for line in _lines(report):
        print(line)
    verdict = "FAILED" if report.failures else "passed"
    print(
        f"deploy-check {verdict}: {len(report.failures)} failure(s), {len(report.to_fill)} value(s) to fill"
    )
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
