"""Build example documents from the property-level ``example`` values of GHL's OpenAPI schemas.

GHL's specs carry no whole-response examples, only an ``example`` per property; an operation's
documented example is the object assembled from them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class SpecExamples:
    def __init__(self, openapi_dir: Path) -> None:
        self.dir = openapi_dir
        self._docs: dict[Path, dict[str, Any]] = {}
        # Property examples that contradict their own declared type (spec bugs), as
        # "<declared type>:<example>"; they are replaced by a value of the declared type.
        self.mismatches: list[str] = []

    def _typed(self, schema: dict[str, Any], value: Any) -> Any:
        declared = schema.get("type")
        if declared == "boolean" and not isinstance(value, bool):
            if value in ("true", "false"):
                return value == "true"
            self.mismatches.append(f"boolean:{value!r}")
            return True
        if declared == "array" and not isinstance(value, list):
            self.mismatches.append(f"array:{value!r}")
            return [value]
        return value

    def doc(self, path: Path) -> dict[str, Any]:
        path = path.resolve()
        if path not in self._docs:
            self._docs[path] = json.loads(path.read_text())
        return self._docs[path]

    def resolve(self, ref: str, base: Path) -> tuple[dict[str, Any], Path]:
        file_part, _, pointer = ref.partition("#")
        target = (base.parent / file_part).resolve() if file_part else base
        node: Any = self.doc(target)
        for part in pointer.strip("/").split("/"):
            node = node[part]
        return node, target

    def example(self, schema: dict[str, Any], base: Path, depth: int = 0) -> Any:
        if depth > 8:
            return None
        if "$ref" in schema:
            target, target_base = self.resolve(schema["$ref"], base)
            return self.example(target, target_base, depth + 1)
        if "example" in schema and schema.get("type") != "object":
            return self._typed(schema, schema["example"])
        if "enum" in schema:
            return schema["enum"][0]
        if "allOf" in schema:
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                value = self.example(part, base, depth + 1)
                if isinstance(value, dict):
                    merged.update(value)
            return merged or None
        for key in ("oneOf", "anyOf"):
            if key in schema:
                return self.example(schema[key][0], base, depth + 1)
        if schema.get("type") == "array":
            if "example" in schema:
                return self._typed(schema, schema["example"])
            item = self.example(schema.get("items", {}), base, depth + 1)
            return [item] if item is not None else []
        if "properties" in schema:
            out = {}
            for name, prop in schema["properties"].items():
                value = self.example(prop, base, depth + 1)
                if value is not None:
                    out[name] = value
            return out
        return schema.get("example")

    def operation(self, spec: str, method: str, path: str) -> dict[str, Any]:
        return self.doc(self.dir / "apps" / spec)["paths"][path][method.lower()]

    def response_example(self, spec: str, method: str, path: str, status: str) -> Any:
        content = self.operation(spec, method, path)["responses"][status]["content"]
        schema = next(iter(content.values()))["schema"]
        return self.example(schema, (self.dir / "apps" / spec).resolve())

    def request_example(self, spec: str, method: str, path: str) -> Any:
        content = self.operation(spec, method, path)["requestBody"]["content"]
        schema = next(iter(content.values()))["schema"]
        return self.example(schema, (self.dir / "apps" / spec).resolve())
