"""`rankr-ghl install-url --rankr-account A [--agency] [--return-url U]`: an install link minted by the
control API's `install_link` (single use, about 15 minutes), the same op Rankr calls."""

from __future__ import annotations

import argparse
import json
import sys


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "install-url",
        help="print a single-use install link for a Rankr account (valid about 15 minutes)",
        description="Ask the control API for an install link. Opening it in a browser starts the GHL "
        "install; the connection(s) it creates are bound to the Rankr account.",
    )
    parser.add_argument("--rankr-account", required=True, help="Rankr account the install binds to")
    parser.add_argument(
        "--agency", action="store_true", help="request an agency (Company) token: bulk install"
    )
    parser.add_argument("--return-url", help="Rankr page linked from the outcome page (allow-listed)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from rankr_ghl.config import ConfigError
    from rankr_ghl.wiring import root

    request = {
        "op": "install_link",
        "rankrAccountId": args.rankr_account,
        "target": "agency" if args.agency else "location",
    }
    if args.return_url:
        request["returnUrl"] = args.return_url
    try:
        answer = root().control().handle(request)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not answer.get("ok"):
        print(f"error: {json.dumps(answer.get('error'))}", file=sys.stderr)
        return 2
    print(answer["result"]["url"])
    return 0
