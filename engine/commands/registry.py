"""`play registry ls|check`: the options of both; the work is in registry_ls.py and
registry_check.py.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from engine.commands.options import Parser, inventory_options, option_names, read_inventory, unlock
from engine.commands.registry_check import CheckOptions, check_registry
from engine.commands.registry_ls import list_instances


def make_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="play registry", description="the service registry")
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("ls", help="list registered instances")
    listing.add_argument("service", nargs="?", help="only this service's instances")
    inventory_options(listing)
    listing.add_argument("--json", action="store_true", help="one JSON document")
    check = actions.add_parser(
        "check", help="compare every record with its container; --fix removes stale ones",
        description="Compare every instance record with its container (exists, running, "
                    "healthy, same image). Exit 0: all records good (or every stale one "
                    "removed); 6: stale records left; 3: a host or the registry could not "
                    "be reached; 5: the deploy lock is busy (--fix).")
    check.add_argument("service", nargs="?", help="check only this service's records")
    inventory_options(check)
    check.add_argument("--fix", action="store_true",
                       help="remove the stale records (never those of unreachable hosts)")
    check.add_argument("--json", action="store_true", help="one JSON document")
    check.add_argument("--lock-timeout", type=float, default=60.0, metavar="SECONDS",
                       help="with --fix: how long to wait for the deploy lock of the "
                            "records' hosts")
    return parser


def main(argv: Sequence[str]) -> int:
    options = make_parser().parse_args(argv)
    unlock(options)
    inventory = read_inventory(options.inventory)
    if options.action == "check":
        check = CheckOptions(service=options.service, fix=options.fix, as_json=options.json,
                             lock_timeout=options.lock_timeout,
                             option_names=option_names(argv))
        return check_registry(inventory, check, sys.stdout,
                              lambda message: print(f"warning: {message}", file=sys.stderr))

    return list_instances(inventory, options.service, options.json, sys.stdout)
