"""`play inventory`: the inventory as Ansible's `--list` JSON, one host's variables, or
the group tree.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from engine.commands.options import Parser, inventory_options, read_inventory, unlock
from engine.errors import EXIT_OK
from engine.output.inventory import ansible_list, graph_text, host_vars_json


def make_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="play inventory", description="show the inventory")
    inventory_options(parser)
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument("--list", action="store_true", help="all hosts and groups as JSON")
    shown.add_argument("--host", metavar="NAME", help="one host's variables as JSON")
    shown.add_argument("--graph", action="store_true", help="the group tree")
    return parser


def main(argv: Sequence[str]) -> int:
    options = make_parser().parse_args(argv)
    unlock(options)
    inventory = read_inventory(options.inventory)
    if options.host:
        sys.stdout.write(json.dumps(host_vars_json(inventory, options.host), indent=2) + "\n")
    elif options.graph:
        sys.stdout.write(graph_text(inventory))
    else:
        sys.stdout.write(json.dumps(ansible_list(inventory), indent=2) + "\n")
    return EXIT_OK
