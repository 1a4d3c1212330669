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
from typing import TYPE_CHECKING, Any, NoReturn

from engine import __version__
from engine.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_INVALID, EXIT_OK, InputError

if TYPE_CHECKING:
    from engine.connection.pool import EarlyConnections
    from engine.inventory import Inventory
    from engine.inventory.overrides import ConnectionDefaults
    from engine.run import Prepared, RunOptions

SUBCOMMANDS = ("graph", "inventory", "lab", "registry", "report")
DEFAULT_INVENTORY = "inventory/lab.yml"


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the epilog's lines as written and shows every option's default (unless its
    help already says it): `off` for a flag, `none` for an unset value."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or not action.option_strings or action.default is \
                argparse.SUPPRESS or isinstance(action, argparse._HelpAction | argparse.
                                                _VersionAction):
            return text
        if action.nargs == 0 and isinstance(action.default, bool):
            shown = "on" if action.default else "off"
        elif action.default in (None, "", []):
            shown = "none"
        else:
            shown = str(action.default)
        return f"{text} (default: {shown})"


class _Parser(argparse.ArgumentParser):
    """Option mistakes are invalid input: exit 4 like any other, not argparse's 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise InputError(f"{message} (see {self.prog} --help)", None)


def _inventory_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-i", "--inventory", action="append", default=[], metavar="INV",
                        help="inventory file or folder; repeatable (default: $PLAY_INVENTORY, "
                             f"else {DEFAULT_INVENTORY})")
    vault = parser.add_argument_group("ansible-vault (every vaulted value is a secret)")
    vault.add_argument("--vault-password-file", "--vault-pass-file", action="append",
                       default=[], metavar="FILE",
                       help="the vault password, or an executable that prints it; repeatable "
                            "(also $ANSIBLE_VAULT_PASSWORD_FILE)")
    vault.add_argument("--vault-id", action="append", default=[], metavar="LABEL@FILE",
                       help="a password for the values encrypted with this vault id "
                            "(LABEL@prompt asks for it); repeatable")
    vault.add_argument("-J", "--ask-vault-pass", "--ask-vault-password", action="store_true",
                       help="prompt for the vault password")


def _unlock(options: argparse.Namespace) -> None:
    """The vault passwords the options give, for the loaders (engine/vault.py)."""
    import getpass

    from engine import vault

    vault.current().secrets = vault.load_secrets(
        options.vault_password_file, options.vault_id, options.ask_vault_pass, getpass.getpass)


def _selection_options(parser: argparse.ArgumentParser) -> None:
    _inventory_options(parser)
    parser.add_argument("-l", "--limit", metavar="PATTERN|@FILE",
                        help="narrow every play to these hosts; @FILE: the hosts listed in "
                             "FILE, one per line (a retry file)")
    parser.add_argument("-e", "--extra-vars", action="append", default=[], metavar="K=V|@FILE",
                        help="extra variables, highest precedence; repeatable")
    parser.add_argument("-t", "--tags", default="", help="run only steps with these tags (a,b)")
    parser.add_argument("--skip-tags", default="", help="skip steps with these tags (a,b)")


RUN_USAGE = ("play [options] PLAYBOOK\n"
             "       play {graph,inventory,lab,registry,report} ...  (play SUBCOMMAND --help)")
RUN_EPILOG = """\
exit status:
  0  success                   4  invalid input (before anything runs)
  1  play itself failed        5  the deploy lock is busy
  2  a step failed             6  --check found pending changes
  3  a host unreachable      130  interrupted

examples:
  play playbooks/deploy.yml -i inventory/lab.yml --check --diff
  play site.yml -i prod.ini -l web -u admin -b -K --retry-file site.retry
"""


def _run_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="play", usage=RUN_USAGE, epilog=RUN_EPILOG,
                     description="Deploy containers and register services over SSH, from a "
                     "playbook and an Ansible inventory. Subcommands: graph (the plan), "
                     "inventory, lab (local test hosts), registry (ls, check), report (a "
                     "run's HTML page).")
    parser.add_argument("--version", action="version", version=f"play {__version__}",
                        help="print the version and exit")
    parser.add_argument("playbook", help="the playbook to run")
    _selection_options(parser)
    parser.add_argument("-C", "--check", action="store_true", help="change nothing, show what "
                        "would change (exit 6 when something would)")
    parser.add_argument("-D", "--diff", action="store_true",
                        help="show how files and containers would change or changed")
    parser.add_argument("-f", "--forks", type=int, default=50, help="hosts worked on at once")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="-v: each command line run; -vv: and its output; -vvv: and how "
                             "each host was reached (secrets hidden as everywhere)")
    reach = parser.add_argument_group("connection (an inventory's own variable wins over "
                                      "these, as in Ansible)")
    reach.add_argument("-u", "--user", metavar="USER", default=None,
                       help="remote user of every host whose inventory sets no "
                            "user/ansible_user (else ~/.ssh/config's, else $USER)")
    reach.add_argument("-b", "--become", action="store_true",
                       help="run every task with sudo unless the host sets become")
    reach.add_argument("-K", "--ask-become-pass", action="store_true",
                       help="prompt for the sudo password (for hosts that set none)")
    reach.add_argument("-k", "--ask-pass", action="store_true",
                       help="prompt for the SSH password (for hosts that set none)")
    shown = parser.add_argument_group("checking and listing (nothing runs on a host)")
    only = shown.add_mutually_exclusive_group()
    only.add_argument("--syntax-check", action="store_true",
                      help="run every check a run does, print only errors; exit 0 or 4")
    only.add_argument("--list-hosts", action="store_true", help="list each play's hosts")
    only.add_argument("--list-tasks", action="store_true", help="list each play's steps")
    parser.add_argument("--start-at-task", metavar="NAME", default=None,
                        help="start at the first task so named (earlier tasks and plays "
                             "do not run)")
    parser.add_argument("--retry-file", metavar="PATH",
                        default=os.environ.get("PLAY_RETRY_FILE") or None,
                        help="after a run, write the hosts that failed or were unreachable "
                             "here, one per line, for `--limit @PATH`; removed when none "
                             "did (default: $PLAY_RETRY_FILE; unset: no file)")
    parser.add_argument("--json", action="store_true", help="one JSON event per line")
    parser.add_argument("--log", metavar="FILE", help="append plain progress lines to FILE")
    parser.add_argument("--report", metavar="FILE",
                        help="write the run's HTML report (recap, timeline, failures, diffs, "
                             "registry) to FILE when the run ends")
    parser.add_argument("--lock-timeout", type=float, default=60.0, metavar="SECONDS",
                        help="how long to wait for another run's deploy lock (then exit 5)")
    return parser


def _graph_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="play graph", description="print the plan of a playbook")
    parser.add_argument("playbook", help="the playbook to plan")
    _selection_options(parser)
    parser.add_argument("--format", choices=("text", "dot", "json", "svg", "png"),
                        default="text", help="svg and png need Graphviz's dot (default: text)")
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


def _registry_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="play registry", description="the service registry")
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("ls", help="list registered instances")
    listing.add_argument("service", nargs="?", help="only this service's instances")
    _inventory_options(listing)
    listing.add_argument("--json", action="store_true", help="one JSON document")
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
                            "records' hosts")
    return parser


def _report_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="play report", description="write the HTML report of the last run "
                     "in a --json log to stdout: play report run.jsonl > run.html")
    parser.add_argument("log", help="the events a run wrote with --json")
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


def read_limit(limit: str | None) -> str | None:
    """`--limit @FILE` is the hosts FILE lists, one per line (a retry file; blank lines and
    `#` comments skipped), as one union pattern; any other limit is a pattern itself."""
    if limit is None or not limit.startswith("@"):
        return limit
    path = limit[1:]
    try:
        with open(path, encoding="utf-8") as listed:
            lines = listed.read().splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"--limit {limit}: cannot read the host list {path!r}: "
                         f"{getattr(error, 'strerror', None) or error}; give a file with "
                         "one host per line (a retry file)", None) from None
    hosts = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    if not hosts:
        raise InputError(f"--limit {limit}: {path} lists no host; give a file with one host "
                         "per line, or no --limit for every host", None)
    return ":".join(hosts)


def _connection_defaults(options: argparse.Namespace) -> ConnectionDefaults:
    """-u, -b and the -K / -k prompts (only a run asks: never `play graph`)."""
    import getpass

    from engine.inventory.overrides import ConnectionDefaults

    return ConnectionDefaults(
        user=options.user, become=options.become,
        become_password=getpass.getpass("BECOME password: ") if options.ask_become_pass
        else None,
        ssh_password=getpass.getpass("SSH password: ") if options.ask_pass else None)


def _run_options(options: argparse.Namespace, argv: Sequence[str] = ()) -> RunOptions:
    from engine.run import RunOptions

    is_run = hasattr(options, "verbose")  # the run's parser, not graph's
    return RunOptions(
        playbook=options.playbook, inventories=tuple(options.inventory),
        limit=read_limit(options.limit),
        extra_vars=tuple(options.extra_vars), tags=tuple(_split_tags(options.tags)),
        skip_tags=tuple(_split_tags(options.skip_tags)),
        check=getattr(options, "check", False), diff=getattr(options, "diff", False),
        forks=getattr(options, "forks", 50), json=getattr(options, "json", False),
        log=getattr(options, "log", None), report=getattr(options, "report", None),
        lock_timeout=getattr(options, "lock_timeout", 60.0),
        option_names=option_names(argv),
        **({"verbosity": options.verbose, "start_at_task": options.start_at_task,
            "retry_file": options.retry_file,
            "connection_defaults": _connection_defaults(options)} if is_run else {}))


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
    _unlock(options)
    run_options, prepared = _prepare(options)
    placement = None
    if options.explain:
        from engine.run import explain_placements

        placement = explain_placements(prepared, run_options)
    if options.format in ("svg", "png"):
        from engine.output.graphviz import render_image

        sys.stdout.flush()
        sys.stdout.buffer.write(render_image(render_graph(prepared.plan, "dot", placement),
                                             options.format))
        sys.stdout.buffer.flush()
        return EXIT_OK
    sys.stdout.write(render_graph(prepared.plan, options.format, placement))
    return EXIT_OK


def _inventory(argv: Sequence[str]) -> int:
    from engine.output.inventory import ansible_list, graph_text, host_vars_json

    options = _inventory_parser().parse_args(argv)
    _unlock(options)
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
    _unlock(options)
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


def _report(argv: Sequence[str]) -> int:
    from engine.commands.report import write_report

    return write_report(_report_parser().parse_args(argv).log, sys.stdout)


def _run(argv: Sequence[str]) -> int:
    if "--version" in argv and len(argv) > 1:
        raise InputError("--version takes no other argument (see play --help)", None)
    options = _run_parser().parse_args(argv)  # first: `--version` exits here, importing nothing
    from engine.connection.pool import EarlyConnections
    from engine.run import execute

    _unlock(options)
    if options.forks < 1:
        raise InputError(f"--forks must be at least 1, not {options.forks}", None)
    if not options.lock_timeout >= 0:  # nan too
        raise InputError(f"--lock-timeout must be 0 or more seconds, not {options.lock_timeout}",
                         None)
    if options.report and (Path(options.report).is_dir()
                           or not Path(options.report).resolve().parent.is_dir()):
        raise InputError(f"--report {options.report}: give a file in an existing folder "
                         "(the HTML page is written there when the run ends)", None)
    if options.syntax_check or options.list_hosts or options.list_tasks:
        return _check_only(options, argv)
    early = EarlyConnections()
    try:
        run_options, prepared = _prepare(options, early, argv)
        return execute(prepared, run_options, early=early)
    finally:
        early.close()  # what the run did not take over: all of it when the input was invalid


def _check_only(options: argparse.Namespace, argv: Sequence[str]) -> int:
    """--syntax-check, --list-hosts, --list-tasks: every check of a run, no connection."""
    from engine.output.listing import list_hosts, list_tasks

    options.ask_become_pass = options.ask_pass = False  # nothing connects: nothing to ask
    _, prepared = _prepare(options, None, argv)
    if options.list_hosts:
        sys.stdout.write(list_hosts(prepared.plan))
    elif options.list_tasks:
        sys.stdout.write(list_tasks(prepared.plan))
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    from engine import vault

    arguments = list(sys.argv[1:] if argv is None else argv)
    with vault.unlocked(vault.Keyring()):  # a command's own passwords and plaintexts
        return _main(arguments)


def _main(arguments: list[str]) -> int:
    try:
        if arguments and arguments[0] in SUBCOMMANDS:
            command = {"graph": _graph, "inventory": _inventory, "lab": _lab,
                       "registry": _registry, "report": _report}[arguments[0]]
            return command(arguments[1:])
        return _run(arguments)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
