"""Build typed example documents from the contract fixture's schemas (tests/contract/ghl_contract.json).

GHL's specs carry no whole-response examples, only an ``example`` per property; the fixture keeps
the shape of each (``x-example-shape``), never its value. An operation's documented example is the
object assembled from those shapes, each filled with a fixed value of its kind.
"""

from __future__ import annotations

from typing import Any

# One fixed value per kind of sample value (see rankr_ghl_tools.contract_fixture.value_shape).
SAMPLE_VALUES: dict[str, Any] = {
    "string": "sample",
    "date-time": "2023-09-25T16:00:00+05:30",
    "date-time-space": "2023-09-25 16:00:00",
    "date": "2023-09-25",
    "boolean-text": "true",
    "integer": 7,
    "number": 1.5,
    "boolean": True,
    "null": None,
}


def sample(shape: Any) -> Any:
    """A value of the given shape: same structure and kinds, fixed content."""
    if isinstance(shape, dict):
        return {key: sample(item) for key, item in shape.items()}
    if isinstance(shape, list):
        return [sample(item) for item in shape]
    return SAMPLE_VALUES[shape]


class SpecExamples:
    def __init__(self, contract: dict[str, Any]) -> None:
        self.contract = contract
        # Property examples that contradict their own declared type (spec bugs), as
        # "<declared type>:<kind of the example>"; they are replaced by a value of the declared type.
        self.mismatches: list[str] = []

    def _typed(self, schema: dict[str, Any], shape: Any) -> Any:
        declared = schema.get("type")
        value = sample(shape)
        if declared == "boolean" and shape == "boolean-text":
            return True
        if declared == "boolean" and shape != "boolean":
            self.mismatches.append(f"boolean:{shape}")
            return True
        if declared == "array" and not isinstance(shape, list):
            self.mismatches.append(f"array:{shape}")
            return [value]
        return value

    def resolve(self, spec: str, ref: str) -> dict[str, Any]:
        node: Any = self.contract[spec]
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        return dict(node)

    def example(self, spec: str, schema: dict[str, Any], depth: int = 0) -> Any:
        if depth > 8:
            return None
        if "$ref" in schema:
            return self.example(spec, self.resolve(spec, schema["$ref"]), depth + 1)
        if "x-example-shape" in schema and schema.get("type") != "object":
            return self._typed(schema, schema["x-example-shape"])
        if "enum" in schema:
            return schema["enum"][0]
        if "allOf" in schema:
            merged: dict[str, Any] = {}
            for part in schema["allOf"]:
                value = self.example(spec, part, depth + 1)
                if isinstance(value, dict):
                    merged.update(value)
            return merged or None
        for key in ("oneOf", "anyOf"):
            if key in schema:
                return self.example(spec, schema[key][0], depth + 1)
        if schema.get("type") == "array":
            item = self.example(spec, schema.get("items", {}), depth + 1)
            return [item] if item is not None else []
        if "properties" in schema:
            out = {}
            for name, prop in schema["properties"].items():
                value = self.example(spec, prop, depth + 1)
                if value is not None:
                    out[name] = value
            return out
        return sample(schema["x-example-shape"]) if "x-example-shape" in schema else None

    def operation(self, spec: str, method: str, path: str) -> dict[str, Any]:
        return dict(self.contract[spec]["paths"][path][method.lower()])

    def response_example(self, spec: str, method: str, path: str, status: str) -> Any:
        content = self.operation(spec, method, path)["responses"][status]["content"]
        return self.example(spec, next(iter(content.values()))["schema"])

    def request_example(self, spec: str, method: str, path: str) -> Any:
        content = self.operation(spec, method, path)["requestBody"]["content"]
        return self.example(spec, next(iter(content.values()))["schema"])
