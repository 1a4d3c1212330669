"""`play lab up|down|status`: the local lab's hosts (engine/lab/).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from engine.commands.options import DEFAULT_INVENTORY, Parser
from engine.errors import EXIT_FAILED, EXIT_OK, InputError


def make_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="play lab", description="local lab hosts in network namespaces")
    actions = parser.add_subparsers(dest="action", required=True)
    up = actions.add_parser("up", help="create or resize the lab")
    up.add_argument("--hosts", type=int, default=3, help="how many hosts the lab has")
    kind = up.add_mutually_exclusive_group()
    kind.add_argument("--no-docker", action="store_true",
                      help="sshd-only hosts: no Docker engine, for many-host runs")
    kind.add_argument("--fresh", action="store_true",
                      help="hosts as a provider hands them over (root by key, no Docker, "
                           "no deploy user), for playbooks/bootstrap.yml")
    up.add_argument("--inventory-out", default=DEFAULT_INVENTORY, metavar="PATH",
                    help="where the lab's inventory is written")
    actions.add_parser("down", help="remove every lab host and its data")
    actions.add_parser("status", help="show the lab hosts")
    return parser


def main(argv: Sequence[str]) -> int:
    from engine.lab import LabError, format_status, lab_down, lab_status, lab_up

    options = make_parser().parse_args(argv)
    try:
        if options.action == "up":
            if options.hosts < 1:
                raise InputError("--hosts must be at least 1", None)
            status = lab_up(options.hosts, Path(options.inventory_out),
                            has_docker=not (options.no_docker or options.fresh),
                            is_fresh=options.fresh)
            sys.stdout.write(format_status(status))
            print(f"inventory written to {options.inventory_out}")
        elif options.action == "down":
            lab_down()
            print("lab is down")
        else:
            sys.stdout.write(format_status(lab_status()))
    except LabError as error:
        print(f"play lab: {error}", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK
