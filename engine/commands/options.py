"""What every subcommand's command line shares: the parser that makes an option mistake
exit 4, the help that shows each default, the inventory and selection options, reading
the inventory, `--limit @FILE`, and a run's options turned into `RunOptions` and prepared.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from engine.errors import InputError
from engine.lazy import is_vault_password_given, paused_gc

if TYPE_CHECKING:
    from engine.connection.pool import EarlyConnections
    from engine.inventory import Inventory
    from engine.inventory.overrides import ConnectionDefaults
    from engine.run_options import Prepared, RunOptions

DEFAULT_INVENTORY = "inventory/lab.yml"


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
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


class Parser(argparse.ArgumentParser):
    """Option mistakes are invalid input: exit 4 like any other, not argparse's 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise InputError(f"{message} (see {self.prog} --help)", None)


def inventory_options(parser: argparse.ArgumentParser) -> None:
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


def unlock(options: argparse.Namespace) -> None:
    """The vault passwords the options give, for the loaders (engine/vault.py)."""
    if not is_vault_password_given(options.vault_password_file, options.vault_id,
                                   options.ask_vault_pass):
        return  # engine.vault waits for a vaulted value (engine/lazy.py)
    import getpass

    from engine import vault

    vault.current().secrets = vault.load_secrets(
        options.vault_password_file, options.vault_id, options.ask_vault_pass, getpass.getpass)


def selection_options(parser: argparse.ArgumentParser) -> None:
    inventory_options(parser)
    parser.add_argument("-l", "--limit", metavar="PATTERN|@FILE",
                        help="narrow every play to these hosts; @FILE: the hosts listed in "
                             "FILE, one per line (a retry file)")
    parser.add_argument("-e", "--extra-vars", action="append", default=[], metavar="K=V|@FILE",
                        help="extra variables, highest precedence; repeatable")
    parser.add_argument("-t", "--tags", default="", help="run only steps with these tags (a,b)")
    parser.add_argument("--skip-tags", default="", help="skip steps with these tags (a,b)")


def read_inventory(sources: Sequence[str]) -> Inventory:
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


def split_tags(text: str) -> list[str]:
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


def connection_defaults(options: argparse.Namespace) -> ConnectionDefaults:
    """-u, -b and the -K / -k prompts (only a run asks: never `play graph`)."""
    import getpass

    from engine.inventory.overrides import ConnectionDefaults

    return ConnectionDefaults(
        user=options.user, become=options.become,
        become_password=getpass.getpass("BECOME password: ") if options.ask_become_pass
        else None,
        ssh_password=getpass.getpass("SSH password: ") if options.ask_pass else None)


def to_run_options(options: argparse.Namespace, argv: Sequence[str] = ()) -> RunOptions:
    from engine.run_options import RunOptions

    is_run = hasattr(options, "verbose")  # the run's parser, not graph's
    return RunOptions(
        playbook=options.playbook, inventories=tuple(options.inventory),
        limit=read_limit(options.limit),
        extra_vars=tuple(options.extra_vars), tags=tuple(split_tags(options.tags)),
        skip_tags=tuple(split_tags(options.skip_tags)),
        check=getattr(options, "check", False), diff=getattr(options, "diff", False),
        forks=getattr(options, "forks", 50), json=getattr(options, "json", False),
        log=getattr(options, "log", None), report=getattr(options, "report", None),
        lock_timeout=getattr(options, "lock_timeout", 60.0),
        option_names=option_names(argv),
        **({"verbosity": options.verbose, "start_at_task": options.start_at_task,
            "retry_file": options.retry_file,
            "connection_defaults": connection_defaults(options)} if is_run else {}))


def prepare_run(options: argparse.Namespace, early: EarlyConnections | None = None,
                argv: Sequence[str] = ()) -> tuple[RunOptions, Prepared]:
    from engine.run import prepare

    run_options = to_run_options(options, argv)
    with paused_gc():
        return run_options, prepare(run_options, read_inventory, early)
