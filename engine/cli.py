"""The `play` command line: `play PLAYBOOK` runs it (engine/commands/run_playbook.py);
`play SUBCOMMAND` hands the rest of the line to that subcommand's module in
engine/commands/. Here the table of subcommands and the errors every one of them turns
into an exit status (InputError: 4, Ctrl-C: 130). Nothing imports this module.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

from engine.commands import run_playbook
from engine.errors import EXIT_INTERRUPTED, EXIT_INVALID, InputError
from engine.lazy import own_vault_keyring

# subcommand -> its module in engine/commands/, imported only when it is the one asked
# for: importing all five at start-up made `play --version` take 21 ms of imports
# instead of 12 (python3 -X importtime -m engine --version)
SUBCOMMANDS = {"graph": "graph", "inventory": "inventory", "lab": "lab",
               "registry": "registry", "report": "report"}


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    with own_vault_keyring():  # a command's own passwords and plaintexts
        return _main(arguments)


def _main(arguments: list[str]) -> int:
    try:
        if arguments and arguments[0] in SUBCOMMANDS:
            command = importlib.import_module(f"engine.commands.{SUBCOMMANDS[arguments[0]]}")
            status: int = command.main(arguments[1:])
            return status
        return run_playbook.main(arguments)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
