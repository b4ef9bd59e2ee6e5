"""Compact, facts-only GHL contract fixtures for the tests, derived from GHL's published files.

GHL's OpenAPI files and webhook examples live outside the repository (``../shared/ghl``). The tests
read two small fixtures under ``tests/contract/`` instead, so a fresh clone runs every contract test:

- ``ghl_contract.json``: for each spec file the connector talks to, a self-contained OpenAPI document
  holding only facts: paths, methods, parameters (required headers and their allowed values),
  request and response schemas (property names, types, formats, enums, required fields) and the
  security requirements. Descriptions, summaries, tags and example values are dropped; where GHL
  documented an example, only its shape is kept (``x-example-shape``: ``"string"``,
  ``"date-time"``, ``"integer"``, ...), so tests can build a typed document of the same shape.
- ``ghl_webhook_events.json``: for each webhook example file, its event ``type`` and the shape of
  its payload (key names and value kinds, no values).

``python -m rankr_ghl_tools.contract_fixture`` rewrites both from ``../shared/ghl``; ``--check``
reports whether the committed fixtures are current (and succeeds, saying so, when the source folder
is absent).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SOURCE = REPO_ROOT.parent / "shared" / "ghl"
DEFAULT_OUT = REPO_ROOT / "tests" / "contract"
CONTRACT_FILE = "ghl_contract.json"
EVENTS_FILE = "ghl_webhook_events.json"

# The spec files the connector talks to, and the path prefixes of the operations it calls there
# (a trailing `$`: that path exactly).
SPEC_FILES: dict[str, tuple[str, ...]] = {
    "contacts.json": ("/contacts/",),
    "oauth.json": ("/oauth/",),
    "calendars.json": ("/calendars/events/appointments/",),
    "locations.json": ("/locations/{locationId}/tasks/", "/locations/{locationId}$"),
}
# Prose and sample values: never facts the code depends on.
DROPPED_KEYS = frozenset(
    {"description", "summary", "example", "examples", "externalDocs", "tags", "operationId", "title"}
)
# Maps whose keys are names chosen by GHL (a property may well be called "description" or "tags").
NAMED_MAPS = frozenset({"properties", "schemas", "securitySchemes", "paths", "responses", "content"})
_DATE = r"\d{4}-\d{2}-\d{2}"
_SHAPES = (
    (re.compile(rf"^{_DATE}T\d{{2}}:\d{{2}}(:\d{{2}}(\.\d+)?)?(Z|[+-]\d{{2}}:?\d{{2}})?$"), "date-time"),
    (re.compile(rf"^{_DATE} \d{{2}}:\d{{2}}(:\d{{2}})?$"), "date-time-space"),
    (re.compile(rf"^{_DATE}$"), "date"),
    (re.compile(r"^(true|false)$"), "boolean-text"),
)


def value_shape(value: Any) -> Any:
    """The kind of a sample value, recursively: its structure and types, never its content."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if value is None:
        return "null"
    if isinstance(value, str):
        return next((name for pattern, name in _SHAPES if pattern.match(value)), "string")
    if isinstance(value, list):
        return [value_shape(value[0])] if value else []
    if isinstance(value, dict):
        return {key: value_shape(item) for key, item in value.items()}
    raise TypeError(f"not a JSON value: {type(value).__name__}")


class _SpecReducer:
    """Strips one spec file to its facts and inlines the schemas it borrows from sibling files."""

    def __init__(self, path: Path, path_prefixes: tuple[str, ...]) -> None:
        self.path = path.resolve()
        self.path_prefixes = path_prefixes
        self.borrowed: dict[str, Any] = {}

    def _local_ref(self, ref: str, base: Path) -> str:
        file_part, _, pointer = ref.partition("#")
        if not file_part:
            return ref
        source = (base.parent / file_part).resolve()
        name = pointer.rstrip("/").split("/")[-1]
        local = f"{source.stem}.{name}"
        if local not in self.borrowed:
            self.borrowed[local] = {}  # placeholder first: a schema may refer to itself
            node: Any = json.loads(source.read_text())
            for part in pointer.strip("/").split("/"):
                node = node[part]
            self.borrowed[local] = self.reduce(node, source, named=False)
        return f"#/components/schemas/{local}"

    def reduce(self, node: Any, base: Path, *, named: bool) -> Any:
        if isinstance(node, list):
            return [self.reduce(item, base, named=False) for item in node]
        if not isinstance(node, dict):
            return node
        out: dict[str, Any] = {}
        for key, value in node.items():
            if named:
                out[key] = self.reduce(value, base, named=False)
            elif key == "$ref":
                out[key] = self._local_ref(value, base)
            elif key == "example":
                out["x-example-shape"] = value_shape(value)
            elif key in DROPPED_KEYS or key.startswith("x-"):
                continue
            else:
                out[key] = self.reduce(value, base, named=key in NAMED_MAPS)
        return out

    def _wanted(self, path: str) -> bool:
        return any(
            path == prefix[:-1] if prefix.endswith("$") else path.startswith(prefix)
            for prefix in self.path_prefixes
        )

    def document(self) -> dict[str, Any]:
        source = json.loads(self.path.read_text())
        paths = {path: ops for path, ops in source["paths"].items() if self._wanted(path)}
        doc: dict[str, Any] = {
            "openapi": source["openapi"],
            "info": {"title": self.path.stem, "version": source.get("info", {}).get("version", "")},
            "servers": [{"url": server["url"]} for server in source.get("servers", [])],
            "paths": self.reduce(paths, self.path, named=True),
            "components": self.reduce(source.get("components", {}), self.path, named=True),
        }
        schemas = doc["components"].setdefault("schemas", {})
        schemas.update(self.borrowed)
        _drop_unreachable_schemas(doc)
        for field in ("title", "version"):
            doc["info"].setdefault(field, "")
        return doc


def _drop_unreachable_schemas(doc: dict[str, Any]) -> None:
    schemas: dict[str, Any] = doc["components"]["schemas"]
    prefix = "#/components/schemas/"
    reachable: set[str] = set()
    pending = [doc["paths"], doc["components"].get("securitySchemes", {})]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith(prefix):
                name = ref[len(prefix) :]
                if name not in reachable and name in schemas:
                    reachable.add(name)
                    pending.append(schemas[name])
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    doc["components"]["schemas"] = {name: schemas[name] for name in sorted(reachable)}


def contract_fixture(source: Path) -> dict[str, Any]:
    apps = source / "openapi" / "apps"
    return {name: _SpecReducer(apps / name, prefixes).document() for name, prefixes in SPEC_FILES.items()}


def webhook_events_fixture(source: Path) -> dict[str, Any]:
    events: dict[str, Any] = {}
    for path in sorted((source / "webhook-events").glob("*.example*.json")):
        payload = json.loads(path.read_text())
        name = path.name.removesuffix(".json")
        events[name] = {"type": payload["type"], "shape": value_shape(payload)}
    return events


def render(fixture: dict[str, Any]) -> str:
    return json.dumps(fixture, indent=1, sort_keys=True) + "\n"


def fixtures(source: Path) -> dict[str, str]:
    return {
        CONTRACT_FILE: render(contract_fixture(source)),
        EVENTS_FILE: render(webhook_events_fixture(source)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help="GHL facts folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder of the fixtures")
    parser.add_argument("--check", action="store_true", help="verify the fixtures are current")
    args = parser.parse_args(argv)
    if not (args.source / "openapi" / "apps").is_dir():
        print(f"{args.source} not found: the committed fixtures in {args.out} stay as they are.")
        return 0
    stale = []
    for name, text in fixtures(args.source).items():
        target = args.out / name
        if args.check:
            if not target.is_file() or target.read_text() != text:
                stale.append(name)
        else:
            target.write_text(text)
            print(f"wrote {target} ({len(text)} bytes)")
    if stale:
        print(f"stale: {', '.join(stale)}; run `make contract-fixture`", file=sys.stderr)
        return 1
    if args.check:
        print(f"fixtures in {args.out} match {args.source}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
