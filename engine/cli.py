"""The `play` command line: parse options, call the stage that does the work, turn
errors into the exit statuses of the spec. Imports are lazy so that `play --version`
and `play graph` start fast.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from engine import __version__
from engine.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_INVALID, EXIT_OK, InputError

if TYPE_CHECKING:
    from engine.connection.pool import EarlyConnections
    from engine.inventory import Inventory
    from engine.run import Prepared, RunOptions

SUBCOMMANDS = ("graph", "inventory", "lab", "registry")
DEFAULT_INVENTORY = "inventory/lab.yml"


class _Parser(argparse.ArgumentParser):
    """Option mistakes are invalid input: exit 4 like any other, not argparse's 2."""

    def error(self, message: str) -> NoReturn:
        raise InputError(f"{message} (see {self.prog} --help)", None)


def _inventory_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-i", "--inventory", action="append", default=[], metavar="INV",
                        help="inventory file or folder; repeatable (default: $PLAY_INVENTORY, "
                             f"else {DEFAULT_INVENTORY})")


def _selection_options(parser: argparse.ArgumentParser) -> None:
    _inventory_options(parser)
    parser.add_argument("-l", "--limit", metavar="PATTERN", help="narrow every play to these hosts")
    parser.add_argument("-e", "--extra-vars", action="append", default=[], metavar="K=V|@FILE",
                        help="extra variables, highest precedence; repeatable")
    parser.add_argument("-t", "--tags", default="", help="run only steps with these tags (a,b)")
    parser.add_argument("--skip-tags", default="", help="skip steps with these tags (a,b)")


def _run_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="play", description="Deploy containers and register services over "
                     "SSH. Subcommands: graph, inventory, lab, registry (play SUBCOMMAND --help).")
    parser.add_argument("--version", action="version", version=f"play {__version__}")
    parser.add_argument("playbook", help="the playbook to run")
    _selection_options(parser)
    parser.add_argument("--check", action="store_true", help="change nothing, show what would")
    parser.add_argument("--diff", action="store_true", help="show how files would change")
    parser.add_argument("-f", "--forks", type=int, default=50, help="hosts worked on at once")
    parser.add_argument("--json", action="store_true", help="one JSON event per line")
    parser.add_argument("--log", metavar="FILE", help="append plain progress lines to FILE")
    parser.add_argument("--lock-timeout", type=float, default=60.0, metavar="SECONDS")
    return parser


def _graph_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="play graph", description="print the plan of a playbook")
    parser.add_argument("playbook")
    _selection_options(parser)
    parser.add_argument("--format", choices=("text", "dot", "json"), default="text")
    parser.add_argument("--explain", action="store_true",
                        help="also read the candidate hosts over SSH and show where each "
                             "replica of a `replicas: N` container goes, and why")
    return parser


def _inventory_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="play inventory", description="show the inventory")
    _inventory_options(parser)
    shown = parser.add_mutually_exclusive_group()
    shown.add_argument("--list", action="store_true", help="all hosts and groups as JSON")
    shown.add_argument("--host", metavar="NAME", help="one host's variables as JSON")
    shown.add_argument("--graph", action="store_true", help="the group tree")
    return parser


def _lab_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="play lab", description="local lab hosts in network namespaces")
    actions = parser.add_subparsers(dest="action", required=True)
    up = actions.add_parser("up", help="create or resize the lab")
    up.add_argument("--hosts", type=int, default=3)
    kind = up.add_mutually_exclusive_group()
    kind.add_argument("--no-docker", action="store_true",
                      help="sshd-only hosts: no Docker engine, for many-host runs")
    kind.add_argument("--fresh", action="store_true",
                      help="hosts as a provider hands them over (root by key, no Docker, "
                           "no deploy user), for playbooks/bootstrap.yml")
    up.add_argument("--inventory-out", default=DEFAULT_INVENTORY, metavar="PATH")
    actions.add_parser("down", help="remove every lab host and its data")
    actions.add_parser("status", help="show the lab hosts")
    return parser


def _registry_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="play registry", description="the service registry")
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("ls", help="list registered instances")
    listing.add_argument("service", nargs="?")
    _inventory_options(listing)
    listing.add_argument("--json", action="store_true")
    check = actions.add_parser(
        "check", help="compare every record with its container; --fix removes stale ones",
        description="Compare every instance record with its container (exists, running, "
                    "healthy, same image). Exit 0: all records good (or every stale one "
                    "removed); 6: stale records left; 3: a host or the registry could not "
                    "be reached; 5: the deploy lock is busy (--fix).")
    check.add_argument("service", nargs="?", help="check only this service's records")
    _inventory_options(check)
    check.add_argument("--fix", action="store_true",
                       help="remove the stale records (never those of unreachable hosts)")
    check.add_argument("--json", action="store_true", help="one JSON document")
    check.add_argument("--lock-timeout", type=float, default=60.0, metavar="SECONDS",
                       help="with --fix: how long to wait for the deploy lock of the "
                            "records' hosts (default 60)")
    return parser


def _load_inventory(sources: Sequence[str]) -> Inventory:
    from engine.inventory import load_inventory

    if not sources:
        default = os.environ.get("PLAY_INVENTORY") or DEFAULT_INVENTORY
        if not Path(default).exists():
            named = f"$PLAY_INVENTORY ({default})" if os.environ.get("PLAY_INVENTORY") \
                else default
            raise InputError(f"no inventory given and {named} does not exist; pass -i "
                             "INVENTORY (or run `play lab up` to make the lab's)", None)
        sources = [default]
    inventory = load_inventory(sources)
    for warning in inventory.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return inventory


def option_names(argv: Sequence[str]) -> tuple[str, ...]:
    """The options a command line gives, by name only, for the deploy lock's owner record:
    `--extra-vars=x` and `-ex` give `--extra-vars` and `-e`. Values are dropped whatever
    they are (an `-e` value may be a password); a value cannot itself start with `-`
    unless attached to its option (argparse reads such a word as an option)."""
    names: list[str] = []
    for word in argv:
        if word == "--":
            break
        if word.startswith("--"):
            names.append(word.partition("=")[0])
        elif word.startswith("-") and len(word) > 1 and not word[1].isdigit():
            names.append(word[:2])
    return tuple(dict.fromkeys(names))


def _split_tags(text: str) -> list[str]:
    return [tag.strip() for tag in text.split(",") if tag.strip()]


def _run_options(options: argparse.Namespace, argv: Sequence[str] = ()) -> RunOptions:
    from engine.run import RunOptions

    return RunOptions(
        playbook=options.playbook, inventories=tuple(options.inventory), limit=options.limit,
        extra_vars=tuple(options.extra_vars), tags=tuple(_split_tags(options.tags)),
        skip_tags=tuple(_split_tags(options.skip_tags)),
        check=getattr(options, "check", False), diff=getattr(options, "diff", False),
        forks=getattr(options, "forks", 50), json=getattr(options, "json", False),
        log=getattr(options, "log", None), lock_timeout=getattr(options, "lock_timeout", 60.0),
        option_names=option_names(argv))


def _prepare(options: argparse.Namespace, early: EarlyConnections | None = None,
             argv: Sequence[str] = ()) -> tuple[RunOptions, Prepared]:
    from engine.run import prepare

    run_options = _run_options(options, argv)
    # Preparing imports most modules and builds the plan: objects that live as long as
    # the run. The cyclic GC would scan them over and over while they are made (~10% of
    # start-up here); frozen, later collections skip them too.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return run_options, prepare(run_options, _load_inventory, early)
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def _graph(argv: Sequence[str]) -> int:
    from engine.output.graph import render_graph

    options = _graph_parser().parse_args(argv)
    run_options, prepared = _prepare(options)
    placement = None
    if options.explain:
        from engine.run import explain_placements

        placement = explain_placements(prepared, run_options)
    sys.stdout.write(render_graph(prepared.plan, options.format, placement))
    return EXIT_OK


def _inventory(argv: Sequence[str]) -> int:
    from engine.output.inventory import ansible_list, graph_text, host_vars_json

    options = _inventory_parser().parse_args(argv)
    inventory = _load_inventory(options.inventory)
    if options.host:
        sys.stdout.write(json.dumps(host_vars_json(inventory, options.host), indent=2) + "\n")
    elif options.graph:
        sys.stdout.write(graph_text(inventory))
    else:
        sys.stdout.write(json.dumps(ansible_list(inventory), indent=2) + "\n")
    return EXIT_OK


def _lab(argv: Sequence[str]) -> int:
    from engine.lab import LabError, format_status, lab_down, lab_status, lab_up

    options = _lab_parser().parse_args(argv)
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


def _registry(argv: Sequence[str]) -> int:
    options = _registry_parser().parse_args(argv)
    inventory = _load_inventory(options.inventory)
    if options.action == "check":
        from engine.commands.registry_check import CheckOptions, check_registry

        check = CheckOptions(service=options.service, fix=options.fix, as_json=options.json,
                             lock_timeout=options.lock_timeout,
                             option_names=option_names(argv))
        return check_registry(inventory, check, sys.stdout,
                              lambda message: print(f"warning: {message}", file=sys.stderr))
    from engine.commands.registry_ls import list_instances

    return list_instances(inventory, options.service, options.json, sys.stdout)


def _run(argv: Sequence[str]) -> int:
    if "--version" in argv and len(argv) > 1:
        raise InputError("--version takes no other argument (see play --help)", None)
    options = _run_parser().parse_args(argv)  # first: `--version` exits here, importing nothing
    from engine.connection.pool import EarlyConnections
    from engine.run import execute

    if options.forks < 1:
        raise InputError(f"--forks must be at least 1, not {options.forks}", None)
    if not options.lock_timeout >= 0:  # nan too
        raise InputError(f"--lock-timeout must be 0 or more seconds, not {options.lock_timeout}",
                         None)
    early = EarlyConnections()
    try:
        run_options, prepared = _prepare(options, early, argv)
        return execute(prepared, run_options, early=early)
    finally:
        early.close()  # what the run did not take over: all of it when the input was invalid


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        if arguments and arguments[0] in SUBCOMMANDS:
            command = {"graph": _graph, "inventory": _inventory, "lab": _lab,
                       "registry": _registry}[arguments[0]]
            return command(arguments[1:])
        return _run(arguments)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
