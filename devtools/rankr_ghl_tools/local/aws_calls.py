"""Record every AWS API call a function's handler makes on the local runtime (one JSON line per call).

Moto enforces no IAM, so the permissions the template grants are proven against what the code really
calls (`iam_check.py`). A worker process of the local runtime installs `install_recorder()` before it
imports the handler: a botocore event hook added to botocore's built-in handlers, so every session and
client the handler creates afterwards (Powertools' included, in any thread) reports its calls.

Each call becomes one line of `<dir>/<FunctionLogicalId>.<pid>.jsonl`:

    {"function": "OAuthCallbackFunction", "template": "/repo/template.yaml", "parameters": {...},
     "service": "secretsmanager", "operation": "CreateSecret",
     "resources": ["arn:aws:secretsmanager:us-east-1:123456789012:secret:rankr-ghl/dev/tokens/loc-??????"],
     "details": {"Tags": ["connector", "location"]}}

`resources` are the ARNs IAM evaluates the call against, in the local account and region. Secret ARNs
end in `-??????`: Secrets Manager appends six random characters to a secret's name, and `!Ref` of a
secret resolves to that full ARN, so both sides of the check use the same stand-in for the suffix.
`details` keeps what changes the permission a call needs: tag keys and KMS key on secret writes, the
per-item kinds and tables of DynamoDB transactions and batches. Recording is on when the parent sets
`RANKR_GHL_AWS_CALLS_DIR` (tests/conftest.py does for the whole pytest session; bench/iam.py too).

This module is imported in the worker processes: standard library and botocore only.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

AWS_CALLS_DIR_ENV = "RANKR_GHL_AWS_CALLS_DIR"
LOCAL_ACCOUNT_ID = "123456789012"  # moto's default account, the local runtime's (template.ACCOUNT_ID)
SECRET_SUFFIX = "??????"  # the six random characters Secrets Manager appends to a secret's name
_CONTEXT_KEY = "rankr_ghl_aws_call"


@dataclass(frozen=True)
class RecordingTarget:
    """Where a worker writes its calls and what to stamp on them (plain data: pickled into workers)."""

    directory: str
    function: str  # template logical id
    template: str
    parameters: dict[str, str] = field(default_factory=dict)


def recording_target(function: str, template: str, parameters: Mapping[str, str]) -> RecordingTarget | None:
    """The target for a worker of `function`, when the parent process asked for recording."""
    directory = os.environ.get(AWS_CALLS_DIR_ENV)
    if not directory:
        return None
    return RecordingTarget(str(Path(directory).resolve()), function, str(template), dict(parameters))


@dataclass(frozen=True)
class AwsCall:
    function: str
    template: str
    parameters: dict[str, str]
    service: str  # IAM service prefix (the client's signing name)
    operation: str
    resources: tuple[str, ...]
    details: dict[str, Any]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> AwsCall:
        return cls(
            function=str(data["function"]),
            template=str(data.get("template", "")),
            parameters={str(k): str(v) for k, v in (data.get("parameters") or {}).items()},
            service=str(data["service"]),
            operation=str(data["operation"]),
            resources=tuple(str(r) for r in data.get("resources", [])),
            details=dict(data.get("details") or {}),
        )

    def key(self) -> str:
        """Identity of the call for counting distinct calls (same function, operation and inputs)."""
        return json.dumps(
            [self.function, self.service, self.operation, self.resources, self.details], sort_keys=True
        )


# -- ARNs of a call ------------------------------------------------------------------------------
def _table_arn(region: str, table: str) -> str:
    if table.startswith("arn:"):
        return table
    return f"arn:aws:dynamodb:{region}:{LOCAL_ACCOUNT_ID}:table/{table}"


def secret_arn(region: str, secret: str) -> str:
    """The ARN of a secret given by name or ARN, its random suffix replaced by `??????`."""
    if secret.startswith("arn:"):
        prefix, _, name = secret.partition(":secret:")
        base, dash, suffix = name.rpartition("-")
        if dash and len(suffix) == len(SECRET_SUFFIX):
            name = base
        return f"{prefix}:secret:{name}-{SECRET_SUFFIX}"
    return f"arn:aws:secretsmanager:{region}:{LOCAL_ACCOUNT_ID}:secret:{secret}-{SECRET_SUFFIX}"


def _queue_arn(region: str, queue_url: str) -> str:
    name = urlparse(queue_url).path.rstrip("/").rsplit("/", 1)[-1]
    return f"arn:aws:sqs:{region}:{LOCAL_ACCOUNT_ID}:{name}"


def _dynamodb(region: str, operation: str, params: Mapping[str, Any]) -> tuple[list[str], dict[str, Any]]:
    details: dict[str, Any] = {}
    resources: list[str] = []
    if "TableName" in params:
        table = _table_arn(region, str(params["TableName"]))
        index = params.get("IndexName")
        resources.append(f"{table}/index/{index}" if index else table)
        if index:
            details["IndexName"] = str(index)
    if "RequestItems" in params:  # BatchWriteItem / BatchGetItem
        items: dict[str, list[str]] = {}
        for table, requests in dict(params["RequestItems"]).items():
            arn = _table_arn(region, str(table))
            kinds = sorted(
                {kind for request in requests for kind in request} if operation == "BatchWriteItem" else []
            )
            items[arn] = kinds
            resources.append(arn)
        details["RequestItems"] = items
    if "TransactItems" in params:  # TransactWriteItems / TransactGetItems
        pairs = sorted(
            {
                (kind, _table_arn(region, str(body["TableName"])))
                for item in params["TransactItems"]
                for kind, body in dict(item).items()
            }
        )
        details["TransactItems"] = [list(pair) for pair in pairs]
        resources.extend(sorted({arn for _, arn in pairs}))
    return resources, details


def _secretsmanager(region: str, params: Mapping[str, Any]) -> tuple[list[str], dict[str, Any]]:
    details: dict[str, Any] = {}
    secret = params.get("SecretId") or params.get("Name")
    resources = [secret_arn(region, str(secret))] if secret else []
    if params.get("Tags"):
        details["Tags"] = sorted(str(tag.get("Key")) for tag in params["Tags"])
    if params.get("KmsKeyId"):
        key = str(params["KmsKeyId"])
        if not key.startswith("arn:"):  # a key id or an alias name: IAM evaluates the ARN
            key = f"arn:aws:kms:{region}:{LOCAL_ACCOUNT_ID}:{'' if key.startswith('alias/') else 'key/'}{key}"
        details["KmsKeyId"] = key
    if params.get("AddReplicaRegions"):
        details["AddReplicaRegions"] = sorted(str(r.get("Region")) for r in params["AddReplicaRegions"])
    return resources, details


def call_resources(
    service: str, operation: str, params: Mapping[str, Any], region: str
) -> tuple[list[str], dict[str, Any]]:
    """(resource ARNs, permission-relevant details) of one API call; `["*"]` when it names no resource."""
    if service == "dynamodb":
        resources, details = _dynamodb(region, operation, params)
    elif service == "secretsmanager":
        resources, details = _secretsmanager(region, params)
    elif service == "sqs" and "QueueUrl" in params:
        resources, details = [_queue_arn(region, str(params["QueueUrl"]))], {}
    elif service == "lambda" and "FunctionName" in params:
        name = str(params["FunctionName"])
        arn = (
            name if name.startswith("arn:") else f"arn:aws:lambda:{region}:{LOCAL_ACCOUNT_ID}:function:{name}"
        )
        resources, details = [arn], {}
    else:
        resources, details = [], {}
    return (resources or ["*"]), details


# -- the recorder (worker side) ------------------------------------------------------------------
class CallWriter:
    """Appends one function's calls to its JSON-lines file (thread-safe, line-buffered)."""

    def __init__(self, target: RecordingTarget) -> None:
        self.target = target
        self._lock = threading.Lock()
        self._file: Any = None

    def write(self, service: str, operation: str, resources: list[str], details: Mapping[str, Any]) -> None:
        line = json.dumps(
            {
                "function": self.target.function,
                "template": self.target.template,
                "parameters": self.target.parameters,
                "service": service,
                "operation": operation,
                "resources": resources,
                "details": dict(details),
            },
            sort_keys=True,
        )
        with self._lock:
            if self._file is None:
                path = Path(self.target.directory) / f"{self.target.function}.{os.getpid()}.jsonl"
                path.parent.mkdir(parents=True, exist_ok=True)
                self._file = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - process-long
            self._file.write(line + "\n")  # line-buffered: a worker killed mid-run keeps what it called


class _Recorder:
    def __init__(self, target: RecordingTarget) -> None:
        self.writer = CallWriter(target)

    def before_parameter_build(self, params: Mapping[str, Any], model: Any, context: Any, **_: Any) -> None:
        """Capture the API-level parameters (serialisation drops them) for `before_call`."""
        if isinstance(context, dict):
            service_model = model.service_model
            service = service_model.signing_name or service_model.endpoint_prefix
            region = str(context.get("client_region") or "us-east-1")
            resources, details = call_resources(service, model.name, params, region)
            context[_CONTEXT_KEY] = (service, model.name, resources, details)

    def before_call(self, context: Any, **_: Any) -> None:
        """Write the call once it passed validation and is about to be sent (retries are not new calls)."""
        call = context.get(_CONTEXT_KEY) if isinstance(context, dict) else None
        if call is not None:
            self.writer.write(*call)


def install_recorder(target: RecordingTarget) -> None:
    """Hook botocore so every session created from now on in this process records its API calls."""
    from botocore import handlers

    recorder = _Recorder(target)
    handlers.BUILTIN_HANDLERS.append(("before-parameter-build", recorder.before_parameter_build))
    handlers.BUILTIN_HANDLERS.append(("before-call", recorder.before_call))
    from rankr_ghl_tools.local.aws_units import install_units_recorder

    install_units_recorder(target.directory, target.function)  # capacity units, for bench/cost.py


# -- reading (checker side) ----------------------------------------------------------------------
def iter_calls(directory: str | Path) -> Iterator[AwsCall]:
    """Every recorded call under `directory` (recursively), in file order."""
    root = Path(directory)
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*.jsonl")):
        with path.open(encoding="utf-8") as handle:
            for raw in handle:
                line = raw.strip()
                if line:
                    try:
                        data = json.loads(line)
                    except ValueError:  # a worker killed in the middle of a line
                        continue
                    yield AwsCall.from_json(data)


def session_directory(base: str | Path) -> Path:
    """A fresh directory for one run's records under `base`, named by UTC time and pid."""
    from datetime import UTC, datetime

    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path(base).resolve() / f"{stamp}-{os.getpid()}"
