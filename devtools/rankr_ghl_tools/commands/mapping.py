"""`rankr-ghl mapping validate|show|set|clear`: check and manage field-mapping documents.

`validate FILE` runs here and needs no AWS. `show`/`set`/`clear` are the control API's operator ops
(`ops.mapping.get|put|delete` on ControlFunction's `ops` alias) for a location or a Rankr account; the
function validates a document again before it stores it, and Lambdas pick a change up within the
resolver's cache TTL, with no redeploy (docs/field-mapping.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rankr_ghl.sync.mapping import FieldMapping, MappingError, load_mapping_file

from rankr_ghl_tools.control_client import add_arguments, operator_call


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("mapping", help="validate and manage field mappings")
    sub = parser.add_subparsers(dest="mapping_command", required=True)

    p = sub.add_parser("validate", help="check a mapping file (JSON or YAML); one line per problem")
    p.add_argument("file", type=Path)
    p.set_defaults(handler=cmd_validate)

    for name, help_text in (
        ("show", "print the mapping a location (or account) uses"),
        ("set", "validate FILE and store it for a location or account"),
        ("clear", "remove a location's (or account's) own mapping: the default applies again"),
    ):
        p = sub.add_parser(name, help=help_text)
        scope = p.add_mutually_exclusive_group(required=True)
        scope.add_argument("--location")
        scope.add_argument("--account")
        if name == "set":
            p.add_argument("file", type=Path)
        add_arguments(p)
        p.set_defaults(handler={"show": cmd_show, "set": cmd_set, "clear": cmd_clear}[name])


def _load(path: Path, refused: str) -> FieldMapping | None:
    """The mapping file, or None after printing `refused` and each problem."""
    try:
        return load_mapping_file(path)
    except MappingError as err:
        print(f"{path}: {refused.format(problems=len(err.problems))}", file=sys.stderr)
        for problem in err.problems:
            print(f"  - {problem}")
        return None


def cmd_validate(args: argparse.Namespace) -> int:
    mapping = _load(args.file, "invalid mapping ({problems} problem(s))")
    if mapping is None:
        return 1
    fields = {e.value: len(m.fields) for e, m in mapping.entities.items() if m.enabled}
    print(f"{args.file}: valid (digest {mapping.digest}; fields per entity: {fields})")
    return 0


def _call(args: argparse.Namespace, op: str, **fields: Any) -> dict[str, Any] | None:
    return operator_call(args, op, args.account, locationId=args.location, **fields)


def cmd_show(args: argparse.Namespace) -> int:
    result = _call(args, "ops.mapping.get")
    if result is None:
        return 1
    if result["source"] == "default":
        print("# no mapping of its own: the built-in default applies", file=sys.stderr)
    print(json.dumps(result["document"], indent=2, sort_keys=True))
    return 0


def cmd_set(args: argparse.Namespace) -> int:
    mapping = _load(args.file, "invalid mapping, nothing stored")
    if mapping is None:
        return 1
    result = _call(args, "ops.mapping.put", document=mapping.document.to_json())
    if result is None:
        return 1
    scope = f"location {args.location}" if args.location else f"account {args.account}"
    print(f"stored mapping {result['version']} for {scope}")
    return 0


def cmd_clear(args: argparse.Namespace) -> int:
    if _call(args, "ops.mapping.delete") is None:
        return 1
    print("cleared: the default (or the account's) mapping applies")
    return 0
