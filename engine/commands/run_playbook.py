"""`play PLAYBOOK`: the run's options, checked before anything runs, then the run
(engine/run.py); --syntax-check, --list-hosts and --list-tasks stop before connecting.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from engine import __version__
from engine.commands.options import Parser, prepare_run, selection_options, unlock
from engine.errors import EXIT_OK, InputError

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


def make_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="play", usage=RUN_USAGE, epilog=RUN_EPILOG,
                    description="Deploy containers and register services over SSH, from a "
                    "playbook and an Ansible inventory. Subcommands: graph (the plan), "
                    "inventory, lab (local test hosts), registry (ls, check), report (a "
                    "run's HTML page).")
    parser.add_argument("--version", action="version", version=f"play {__version__}",
                        help="print the version and exit")
    parser.add_argument("playbook", help="the playbook to run")
    selection_options(parser)
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


def main(argv: Sequence[str]) -> int:
    if "--version" in argv and len(argv) > 1:
        raise InputError("--version takes no other argument (see play --help)", None)
    options = make_parser().parse_args(argv)  # first: `--version` exits here, importing nothing
    from engine.connection.pool import EarlyConnections
    from engine.run import execute

    unlock(options)
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
        run_options, prepared = prepare_run(options, early, argv)
        return execute(prepared, run_options, early=early)
    finally:
        early.close()  # what the run did not take over: all of it when the input was invalid


def _check_only(options: argparse.Namespace, argv: Sequence[str]) -> int:
    """--syntax-check, --list-hosts, --list-tasks: every check of a run, no connection."""
    from engine.output.listing import list_hosts, list_tasks

    options.ask_become_pass = options.ask_pass = False  # nothing connects: nothing to ask
    _, prepared = prepare_run(options, None, argv)
    if options.list_hosts:
        sys.stdout.write(list_hosts(prepared.plan))
    elif options.list_tasks:
        sys.stdout.write(list_tasks(prepared.plan))
    return EXIT_OK
