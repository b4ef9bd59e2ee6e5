"""DynamoDB capacity units of every call a function makes on the local runtime (for bench/cost.py).

Moto reports no real consumed capacity (a constant when asked), and the code does not ask for it, so
the units are computed here from the items themselves, by DynamoDB's published rules:

- item size = sum over attributes of name bytes + value bytes (S: UTF-8 bytes, N: about one byte per
  two significant digits + 1, B: raw bytes, BOOL/NULL: 1, L/M: 3 + elements + 1 per element, sets:
  the sum of their members);
- a write costs ceil(size / 1 KB) write units per item (the request's item for PutItem and batch puts;
  UpdateItem and DeleteItem at least 1, sized from the request's values since the stored item is not
  returned), a read ceil(size / 4 KB) read units per item returned (GetItem, BatchGetItem; a missing
  item still costs the minimum), a Query or Scan ceil(total size / 4 KB) over the items it returned;
- eventually consistent reads (the default, and every index read) cost half; transactions cost double.

A worker that records calls (`aws_calls.install_recorder`) installs `install_units_recorder` too: each
DynamoDB call, once answered, becomes one line of `<dir>/<FunctionLogicalId>.<pid>.units`:

    {"function": "WebhookWorkerFunction", "operation": "PutItem", "table": "rankr-ghl-sync",
     "read_units": 0.0, "write_units": 1.0, "items": 1}

Standard library and botocore only (imported in the worker processes).
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

UNITS_SUFFIX = ".units"
WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096
_CONTEXT_KEY = "rankr_ghl_units_params"


def _number_size(text: str) -> int:
    digits = text.lstrip("-").replace(".", "").lstrip("0").rstrip("0") or "0"
    return (len(digits) + 1) // 2 + 1


def value_size(value: Mapping[str, Any]) -> int:
    """Bytes DynamoDB bills for one attribute value in its wire form ({"S": ...}, {"M": {...}}, ...)."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(str(inner).encode())
    if kind == "N":
        return _number_size(str(inner))
    if kind == "B":
        return len(inner) if isinstance(inner, (bytes, bytearray)) else len(str(inner).encode())
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(v).encode()) for v in inner)
    if kind == "NS":
        return sum(_number_size(str(v)) for v in inner)
    if kind == "BS":
        return sum(len(v) for v in inner)
    if kind == "L":
        return 3 + sum(value_size(v) + 1 for v in inner)
    if kind == "M":
        return 3 + sum(len(str(k).encode()) + value_size(v) + 1 for k, v in inner.items())
    raise ValueError(f"unknown DynamoDB attribute type {kind!r}")


def item_size(item: Mapping[str, Any]) -> int:
    """Bytes of one item: attribute names plus values."""
    return sum(len(str(name).encode()) + value_size(value) for name, value in item.items())


def write_units(size: int) -> float:
    return float(max(1, math.ceil(size / WRITE_UNIT_BYTES)))


def read_units(size: int, *, consistent: bool) -> float:
    units = float(max(1, math.ceil(size / READ_UNIT_BYTES)))
    return units if consistent else units / 2


def _update_size(params: Mapping[str, Any]) -> int:
    """The request's share of an updated item: its key and the values it sets (the stored item is unseen)."""
    values = params.get("ExpressionAttributeValues") or {}
    return item_size(params.get("Key") or {}) + sum(value_size(v) for v in values.values())


def dynamodb_units(operation: str, params: Mapping[str, Any], response: Mapping[str, Any]) -> dict[str, Any]:
    """{"table", "read_units", "write_units", "items"} of one answered DynamoDB call."""
    table = str(params.get("TableName", ""))
    consistent = bool(params.get("ConsistentRead")) and not params.get("IndexName")
    reads = writes = 0.0
    items = 0
    if operation == "PutItem":
        writes, items = write_units(item_size(params.get("Item") or {})), 1
    elif operation == "UpdateItem":
        writes, items = write_units(_update_size(params)), 1
    elif operation == "DeleteItem":
        writes, items = write_units(item_size(params.get("Key") or {})), 1
    elif operation == "GetItem":
        found = response.get("Item") or {}
        reads, items = read_units(item_size(found), consistent=consistent), 1
    elif operation in ("Query", "Scan"):
        returned = list(response.get("Items") or [])
        size = sum(item_size(item) for item in returned)
        count, scanned = len(returned), int(response.get("ScannedCount", len(returned)))
        if count and scanned > count:  # a filter drops items after they were read (and billed)
            size = size * scanned // count
        reads, items = read_units(size, consistent=consistent), scanned
    elif operation == "BatchWriteItem":
        unprocessed = response.get("UnprocessedItems") or {}
        for name, requests in dict(params.get("RequestItems") or {}).items():
            table = table or str(name)
            done = len(requests) - len(unprocessed.get(name, []))
            for request in requests[:done]:
                body = request.get("PutRequest", {}).get("Item") or request.get("DeleteRequest", {}).get(
                    "Key"
                )
                writes += write_units(item_size(body or {}))
                items += 1
    elif operation == "BatchGetItem":
        returned = dict(response.get("Responses") or {})
        unprocessed = response.get("UnprocessedKeys") or {}
        for name, request in dict(params.get("RequestItems") or {}).items():
            table = table or str(name)
            wanted = len(request.get("Keys", [])) - len((unprocessed.get(name) or {}).get("Keys", []))
            found = returned.get(name, [])
            strong = bool(request.get("ConsistentRead"))
            reads += sum(read_units(item_size(item), consistent=strong) for item in found)
            reads += max(wanted - len(found), 0) * read_units(0, consistent=strong)
            items += wanted
    elif operation == "TransactWriteItems":
        for entry in params.get("TransactItems") or []:
            ((kind, body),) = dict(entry).items()
            table = table or str(body.get("TableName", ""))
            if kind == "Put":
                size = item_size(body.get("Item") or {})
            elif kind == "Update":
                size = _update_size(body)
            else:  # Delete, ConditionCheck: billed as a (transactional) write of the item's key
                size = item_size(body.get("Key") or {})
            writes += 2 * write_units(size)
            items += 1
    elif operation == "TransactGetItems":
        for answer in response.get("Responses") or []:
            reads += 2 * read_units(item_size(answer.get("Item") or {}), consistent=True)
            items += 1
    return {"table": table, "read_units": reads, "write_units": writes, "items": items}


class _UnitsRecorder:
    def __init__(self, directory: str, function: str) -> None:
        self.path = Path(directory) / f"{function}.{os.getpid()}{UNITS_SUFFIX}"
        self.function = function
        self._lock = threading.Lock()
        self._file: Any = None

    def keep_params(self, params: Mapping[str, Any], context: Any, **_: Any) -> None:
        if isinstance(context, dict):
            context[_CONTEXT_KEY] = params

    def after_call(self, parsed: Any, model: Any, context: Any, **_: Any) -> None:
        params = context.get(_CONTEXT_KEY) if isinstance(context, dict) else None
        if params is None or not isinstance(parsed, dict):
            return
        failed = "Error" in parsed
        units = failed_units(model.name, params) if failed else dynamodb_units(model.name, params, parsed)
        self._write(model.name, units)

    def _write(self, operation: str, units: Mapping[str, Any]) -> None:
        line = json.dumps({"function": self.function, "operation": operation, **units}, sort_keys=True)
        with self._lock:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = open(self.path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - process-long
            self._file.write(line + "\n")


def failed_units(operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """A refused conditional write still consumes its write units; a failed read is counted as free."""
    if operation in ("PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems"):
        return {**dynamodb_units(operation, params, {}), "failed": True}
    return {"table": str(params.get("TableName", "")), "read_units": 0.0, "write_units": 0.0, "items": 0}


def install_units_recorder(directory: str, function: str) -> None:
    """Hook botocore so every DynamoDB call of this process from now on records its capacity units."""
    from botocore import handlers

    recorder = _UnitsRecorder(directory, function)
    handlers.BUILTIN_HANDLERS.append(("before-parameter-build.dynamodb", recorder.keep_params))
    handlers.BUILTIN_HANDLERS.append(("after-call.dynamodb", recorder.after_call))


def iter_units(directory: str | Path) -> list[dict[str, Any]]:
    """Every recorded units line under `directory` (recursively)."""
    root = Path(directory)
    lines: list[dict[str, Any]] = []
    for path in sorted(root.rglob(f"*{UNITS_SUFFIX}")) if root.is_dir() else []:
        for raw in path.read_text(encoding="utf-8").splitlines():
            try:
                lines.append(json.loads(raw))
            except ValueError:  # a worker killed in the middle of a line
                continue
    return lines
