"""`rankr-ghl install-url --rankr-account A [--agency] [--return-url U]`: an install link minted by the
control API's `install_link` (single use, about 15 minutes), the same op Rankr calls."""

from __future__ import annotations

import argparse
import sys

from rankr_ghl_tools.control_client import ControlCallFailed, ControlClient, add_arguments


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
    add_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from rankr_ghl.config import ConfigError

    try:
        result = ControlClient.from_args(args).call(
            "install_link",
            args.rankr_account,
            target="agency" if args.agency else "location",
            returnUrl=args.return_url,
        )
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ControlCallFailed as refused:
        print(f"error: {refused.code}: {refused.message}", file=sys.stderr)
        return 2
    print(result["url"])
    return 0
