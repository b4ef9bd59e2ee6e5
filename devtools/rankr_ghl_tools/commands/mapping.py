"""`rankr-ghl mapping validate|show|set|clear`: check and manage field-mapping documents.

`validate FILE` needs no AWS. `show`/`set`/`clear` act on the SyncStateTable item of a location or a
Rankr account (table from SYNC_TABLE or --table); Lambdas pick a change up within the resolver's cache
TTL, with no redeploy (docs/field-mapping.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rankr_ghl.sync.mapping import MappingError, default_mapping, load_mapping_file

if TYPE_CHECKING:
    from rankr_ghl.aws.sync_state import DynamoMappingConfigSource


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
        p.add_argument("--table", help="SyncStateTable name (default: $SYNC_TABLE)")
        if name == "set":
            p.add_argument("file", type=Path)
        p.set_defaults(handler={"show": cmd_show, "set": cmd_set, "clear": cmd_clear}[name])


def cmd_validate(args: argparse.Namespace) -> int:
    try:
        mapping = load_mapping_file(args.file)
    except MappingError as err:
        print(f"{args.file}: invalid mapping ({len(err.problems)} problem(s))", file=sys.stderr)
        for problem in err.problems:
            print(f"  - {problem}")
        return 1
    fields = {e.value: len(m.fields) for e, m in mapping.entities.items() if m.enabled}
    print(f"{args.file}: valid (digest {mapping.digest}; fields per entity: {fields})")
    return 0


def _config(args: argparse.Namespace) -> DynamoMappingConfigSource:
    from rankr_ghl.aws.sync_state import DynamoMappingConfigSource
    from rankr_ghl.wiring import root

    return DynamoMappingConfigSource(args.table or root().settings.sync_table)


def cmd_show(args: argparse.Namespace) -> int:
    document = _config(args).get_scoped_document(location_id=args.location, account_id=args.account)
    if document is None:
        print("# no mapping of its own: the built-in default applies", file=sys.stderr)
        document = default_mapping().document.model_dump(mode="json")
    print(json.dumps(document, indent=2, sort_keys=True))
    return 0


def cmd_set(args: argparse.Namespace) -> int:
    try:
        mapping = load_mapping_file(args.file)
    except MappingError as err:
        print(f"{args.file}: invalid mapping, nothing stored", file=sys.stderr)
        for problem in err.problems:
            print(f"  - {problem}")
        return 1
    _config(args).put_mapping_document(
        mapping.document.model_dump(mode="json"), location_id=args.location, account_id=args.account
    )
    scope = f"location {args.location}" if args.location else f"account {args.account}"
    print(f"stored mapping {mapping.digest} for {scope}")
    return 0


def cmd_clear(args: argparse.Namespace) -> int:
    _config(args).delete_mapping_document(location_id=args.location, account_id=args.account)
    print("cleared: the default (or the account's) mapping applies")
    return 0
