"""The control API's contract as data, for docs/control-api.md (rankr_ghl_tools.control_docs) and its
tests: version, error codes, and each op's JSON Schema, Rankr's and the operator scope's."""

from __future__ import annotations

from typing import Any

from rankr_ghl.flows.control.contract import CONTRACT_VERSION, ERROR_CODES, OPS
from rankr_ghl.flows.control.operator_contract import OPERATOR_OPS


def contract_document() -> dict[str, Any]:
    return {
        "version": CONTRACT_VERSION,
        "errors": ERROR_CODES,
        "ops": {name: model.model_json_schema(by_alias=True) for name, model in OPS.items()},
        "operatorOps": {name: model.model_json_schema(by_alias=True) for name, model in OPERATOR_OPS.items()},
    }
