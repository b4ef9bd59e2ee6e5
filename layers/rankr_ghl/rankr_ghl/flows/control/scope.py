"""The control API's scope, read from the alias ControlFunction was invoked through.

- `live` (Rankr's alias): every op is scoped by its `rankrAccountId`; operator ops are refused.
- `ops` (the operators' alias, template.yaml ControlOpsAlias): the operator ops too, across accounts.

Anything else (an unqualified $LATEST invocation, a version number, another alias, no context at all)
is the account scope: a caller that did not come through the operators' alias never gets more.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from rankr_ghl.invoked_alias import invoked_alias

# The alias names of template.yaml: ControlFunction's AutoPublishAlias and ControlOpsAlias.
ACCOUNT_ALIAS = "live"
OPERATOR_ALIAS = "ops"
# Operator ops are named `ops.<...>` (operator_contract.py).
OPERATOR_PREFIX = "ops."


class Scope(StrEnum):
    ACCOUNT = "account"
    OPERATOR = "operator"


def scope_of(context: Any) -> Scope:
    return Scope.OPERATOR if invoked_alias(context) == OPERATOR_ALIAS else Scope.ACCOUNT


def is_operator_op(op: object) -> bool:
    """An `ops.` name: refused outside the operator scope, known or not, so `live` learns nothing."""
    return isinstance(op, str) and op.startswith(OPERATOR_PREFIX)
