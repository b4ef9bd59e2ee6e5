"""What each function's role in `template.yaml` is allowed to do, offline.

The SAM template is translated to CloudFormation with `aws-sam-translator` (the library `sam` and
CloudFormation use), so SAM policy templates such as `DynamoDBCrudPolicy` are expanded exactly as on a
deploy. The translated role policies are resolved against the local account and region with the local
runtime's intrinsic resolver; secrets resolve to `arn:...:secret:<name>-??????` (see aws_calls.py).

`Grant.allows(action, resource)` follows IAM's matching: actions case-insensitively, resources
case-sensitively, `*` and `?` wildcards in both; an explicit Deny wins. Conditions are not evaluated
(the template uses none): `iam_check` reports a grant that only a conditional statement gives.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from rankr_ghl_tools.local.aws_calls import SECRET_SUFFIX
from rankr_ghl_tools.local.template import _Resolver, load_template

ARTIFACT_BUCKET = (
    "s3://local-artifacts/"  # stands in for `sam package`'s upload: the translator wants S3 URIs
)


@lru_cache(maxsize=512)
def _pattern(text: str, case_sensitive: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
    return re.compile(f"^{body}$", 0 if case_sensitive else re.IGNORECASE)


def wildcard_match(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    """IAM's `*` / `?` matching of a policy element against a request value."""
    return bool(_pattern(pattern, case_sensitive).match(value))


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [str(v) for v in (value if isinstance(value, list) else [value])]


@dataclass(frozen=True)
class Statement:
    """One resolved policy statement of a function's role."""

    policy: str  # PolicyName in the translated role (e.g. LeadPushFunctionRolePolicy3)
    sid: str | None
    effect: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    resources: tuple[str, ...]
    not_resources: tuple[str, ...]
    has_condition: bool

    def matches(self, action: str, resource: str) -> bool:
        if self.actions and not any(wildcard_match(a, action, case_sensitive=False) for a in self.actions):
            return False
        if self.not_actions and any(
            wildcard_match(a, action, case_sensitive=False) for a in self.not_actions
        ):
            return False
        if self.resources and not any(wildcard_match(r, resource) for r in self.resources):
            return False
        return not (self.not_resources and any(wildcard_match(r, resource) for r in self.not_resources))

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"Effect": self.effect}
        if self.sid:
            doc["Sid"] = self.sid
        for key, values in (
            ("Action", self.actions),
            ("NotAction", self.not_actions),
            ("Resource", self.resources),
            ("NotResource", self.not_resources),
        ):
            if values:
                doc[key] = list(values)
        return doc


@dataclass(frozen=True)
class RolePolicies:
    """The inline statements and the managed policy ARNs of one function's role."""

    function: str
    statements: tuple[Statement, ...]
    managed_policy_arns: tuple[str, ...]

    def allows(self, action: str, resource: str) -> bool:
        allow = [s for s in self.statements if s.effect == "Allow" and s.matches(action, resource)]
        deny = [s for s in self.statements if s.effect == "Deny" and s.matches(action, resource)]
        return bool(allow) and not deny

    def documents(self) -> dict[str, dict[str, Any]]:
        """PolicyName -> resolved policy document (for the linter and for reports)."""
        docs: dict[str, dict[str, Any]] = {}
        for statement in self.statements:
            doc = docs.setdefault(statement.policy, {"Version": "2012-10-17", "Statement": []})
            doc["Statement"].append(statement.document())
        return docs


def translate_template(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The SAM template as CloudFormation (aws-sam-translator, offline: no AWS call is made)."""
    import boto3
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    template = copy.deepcopy(dict(raw))
    for resource in template.get("Resources", {}).values():
        props = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str):
                props[key] = ARTIFACT_BUCKET + props[key]
    session = boto3.session.Session(region_name="us-east-1")
    translator = Translator(None, Parser(), boto_session=session)
    translated: dict[str, Any] = translator.translate(
        template, parameter_values={}, get_managed_policy_map=lambda: {}
    )
    return translated


def _function_roles(translated: Mapping[str, Any]) -> dict[str, str]:
    """Lambda function logical id -> logical id of its role in the translated template."""
    roles: dict[str, str] = {}
    for logical_id, resource in translated.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Lambda::Function":
            continue
        role = (resource.get("Properties") or {}).get("Role")
        if isinstance(role, dict) and "Fn::GetAtt" in role:
            target = role["Fn::GetAtt"]
            roles[logical_id] = str(target[0] if isinstance(target, list) else target.split(".", 1)[0])
    return roles


def role_policies(
    template_path: str | Path, parameter_overrides: Mapping[str, str] | None = None
) -> dict[str, RolePolicies]:
    """Function logical id -> its role's resolved policies, for the given parameter values."""
    path = Path(template_path).resolve()
    overrides = json.dumps(dict(parameter_overrides or {}), sort_keys=True)
    return dict(_role_policies(str(path), path.stat().st_mtime_ns, overrides))


@lru_cache(maxsize=32)
def _role_policies(template_path: str, _mtime_ns: int, overrides: str) -> dict[str, RolePolicies]:
    """Cached per file version and parameter values: translating the template takes a second."""
    source = load_template(template_path, json.loads(overrides))
    secrets = {
        logical_id: {"Ref": f"{spec.arn.rsplit('-', 1)[0]}-{SECRET_SUFFIX}", "Id": ""}
        for logical_id, spec in source.secrets.items()
    }
    for attrs in secrets.values():
        attrs["Id"] = attrs["Ref"]
    translated = translate_template(source.raw)
    resolver = _Resolver(source.path, translated, dict(source.parameter_overrides), secrets)
    resources = translated["Resources"]
    out: dict[str, RolePolicies] = {}
    for function, role in _function_roles(translated).items():
        props = resources[role].get("Properties") or {}
        statements: list[Statement] = []
        for policy in resolver.resolve(props.get("Policies") or []):
            document = policy.get("PolicyDocument") or {}
            raw_statements = document.get("Statement") or []
            for item in raw_statements if isinstance(raw_statements, list) else [raw_statements]:
                statements.append(
                    Statement(
                        policy=str(policy.get("PolicyName", "")),
                        sid=item.get("Sid"),
                        effect=str(item.get("Effect", "Allow")),
                        actions=tuple(_as_list(item.get("Action"))),
                        not_actions=tuple(_as_list(item.get("NotAction"))),
                        resources=tuple(_as_list(item.get("Resource"))),
                        not_resources=tuple(_as_list(item.get("NotResource"))),
                        has_condition="Condition" in item,
                    )
                )
        managed = tuple(_as_list(resolver.resolve(props.get("ManagedPolicyArns") or [])))
        out[function] = RolePolicies(function, tuple(statements), managed)
    return out


def managed_policy_documents(template_path: str | Path) -> dict[str, dict[str, Any]]:
    """Logical id -> resolved document of each AWS::IAM::ManagedPolicy the template declares."""
    source = load_template(template_path)
    translated = translate_template(source.raw)
    resolver = _Resolver(source.path, translated, dict(source.parameter_overrides), {})
    for logical_id, resource in translated["Resources"].items():
        if resource.get("Type") == "AWS::Lambda::Alias":  # Ref of an alias is its ARN
            props = resource.get("Properties") or {}
            function_arn = resolver.get_att(str(props["FunctionName"]["Ref"]), "Arn")
            resolver.physical[logical_id]["Ref"] = f"{function_arn}:{props['Name']}"
    return {
        logical_id: resolver.resolve((resource.get("Properties") or {}).get("PolicyDocument") or {})
        for logical_id, resource in translated["Resources"].items()
        if resource.get("Type") == "AWS::IAM::ManagedPolicy"
    }


@dataclass(frozen=True)
class LintFinding:
    policy: str  # "<Function>/<PolicyName>" or the managed policy's logical id
    issue: str
    detail: str


def lint_documents(
    documents: Mapping[str, Mapping[str, Any]], waivers: Iterable[str] = ()
) -> list[LintFinding]:
    """parliament's findings on resolved policy documents, minus the waived issue codes."""
    from parliament import analyze_policy_string

    waived = set(waivers)
    findings: list[LintFinding] = []
    for name, document in sorted(documents.items()):
        analyzed = analyze_policy_string(json.dumps(document), ignore_private_auditors=True)
        for finding in analyzed.findings:
            if finding.issue in waived:
                continue
            findings.append(LintFinding(name, str(finding.issue), json.dumps(finding.detail, default=str)))
    return findings


def lint_template(template_path: str | Path, waivers: Iterable[str] = ()) -> list[LintFinding]:
    """parliament over every function role policy and every managed policy of the template."""
    documents: dict[str, dict[str, Any]] = {}
    for function, role in role_policies(template_path).items():
        for policy, document in role.documents().items():
            documents[f"{function}/{policy}"] = document
    documents.update(managed_policy_documents(template_path))
    return lint_documents(documents, waivers)
