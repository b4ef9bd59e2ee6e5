"""`rankr-ghl install-url [--rankr-account A] [--agency]`: print a signed GHL install link."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "install-url",
        help="print a GHL chooselocation URL with a signed state (valid 15 minutes)",
        description="Print the GHL install link. The Rankr account travels inside the signed state "
        "and is stored on the connection(s) the install creates.",
    )
    parser.add_argument("--rankr-account", help="Rankr account id to link the new connection(s) to")
    parser.add_argument(
        "--agency", action="store_true", help="request an agency (Company) token: bulk install"
    )
    parser.add_argument(
        "--redirect-uri",
        help="callback URL, when OAUTH_REDIRECT_URI is not set (e.g. <ApiUrl>/oauth/callback)",
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from rankr_ghl.config import ConfigError
    from rankr_ghl.connections.models import UserType
    from rankr_ghl.wiring import root

    try:
        url = (
            root()
            .oauth()
            .install_url(
                args.rankr_account,
                redirect_uri=args.redirect_uri,
                user_type=UserType.COMPANY if args.agency else UserType.LOCATION,
            )
        )
    except (ConfigError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(url)
    return 0
