"""samconfig.toml for `make deploy-check`: every environment sets what the template requires.

A value only the operator knows ships as `FILL-ME-...`. Outside a deploy it is work left to do (and
must fail its parameter's AllowedPattern, so CloudFormation would refuse it too); for the
environment about to be deployed it is a failure.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PLACEHOLDER = re.compile(r"FILL-ME|\.example\b|\.invalid\b|\.test\b|\blocalhost\b", re.IGNORECASE)


@dataclass
class Report:
    failures: list[str] = field(default_factory=list)
    to_fill: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        self.failures.append(message)


@dataclass(frozen=True)
class Environment:
    name: str
    stack_name: str
    region: str
    parameters: dict[str, str]


def parse_overrides(text: str) -> dict[str, str]:
    """`Key=Value Key2="a b"` (samconfig's parameter_overrides string) -> dict."""
    pairs = re.findall(r'(\w+)=("(?:[^"\\]|\\.)*"|\S*)', text)
    return {key: value[1:-1] if value.startswith('"') else value for key, value in pairs}


def load_environments(samconfig: Path) -> dict[str, Environment]:
    config = tomllib.loads(samconfig.read_text())
    environments: dict[str, Environment] = {}
    for name, section in config.items():
        deploy = section.get("deploy", {}).get("parameters") if isinstance(section, dict) else None
        if not deploy:
            continue
        overrides = deploy.get("parameter_overrides", "")
        if isinstance(overrides, list):
            overrides = " ".join(overrides)
        environments[name] = Environment(
            name=name,
            stack_name=str(deploy.get("stack_name", "")),
            region=str(deploy.get("region", "")),
            parameters=parse_overrides(str(overrides)),
        )
    return environments


def check_samconfig(
    template: Mapping[str, Any],
    environments: Mapping[str, Environment],
    deploy_env: str | None,
    report: Report,
) -> None:
    declared: dict[str, Any] = template.get("Parameters", {})
    required = sorted(name for name, spec in declared.items() if "Default" not in spec)
    for name, spec in declared.items():
        if PLACEHOLDER.search(str(spec.get("Default", ""))):
            report.fail(f"template: {name} has the placeholder Default {spec['Default']!r}")
    for stage in ("dev", "prod"):
        if stage not in environments:
            report.fail(f"samconfig: no [{stage}.deploy.parameters]")
    if deploy_env is not None and deploy_env not in environments:
        report.fail(f"samconfig: no [{deploy_env}.deploy.parameters] to deploy")
    for env in environments.values():
        where = f"samconfig [{env.name}]"
        if not env.stack_name or not env.region:
            report.fail(f"{where}: stack_name and region must be set")
        for name in sorted(set(env.parameters) - set(declared)):
            report.fail(f"{where}: {name} is not a template parameter")
        for name in required:
            if name not in env.parameters:
                report.fail(f"{where}: required parameter {name} is not set")
        for name, value in env.parameters.items():
            if name in declared:
                _check_value(where, name, value, declared[name], report, deploying=env.name == deploy_env)
    stacks = [env.stack_name for env in environments.values() if env.name in ("dev", "prod")]
    if len(set(stacks)) != len(stacks):
        report.fail(f"samconfig: dev and prod share a stack name {stacks}")


def _check_value(
    where: str, name: str, value: str, spec: Mapping[str, Any], report: Report, *, deploying: bool
) -> None:
    pattern = spec.get("AllowedPattern")
    matches = pattern is None or re.fullmatch(str(pattern), value) is not None
    allowed = spec.get("AllowedValues")
    if allowed is not None and value not in [str(a) for a in allowed]:
        report.fail(f"{where}: {name}={value!r} is not one of {allowed}")
    if PLACEHOLDER.search(value):
        if deploying:
            report.fail(f"{where}: {name}={value!r} is a placeholder; fill it in before deploying")
        elif matches:
            report.fail(f"{where}: placeholder {name}={value!r} passes AllowedPattern, so it would deploy")
        else:
            report.to_fill.append(f"{where}: {name}")
    elif not matches:
        report.fail(f"{where}: {name}={value!r} fails AllowedPattern {pattern}")
