"""Start-up tricks, in one place, with what each saves. `play --version` imports no more
than the run's option parser, and an all-local tasks-only run no fabric, invoke,
paramiko, jinja2, rich, etcd client or container code (tests/unit/test_run_startup.py).
Every other import sits at its module's top.

Measured on the lab machine (best of 5, `python3 -c 'import X'`), each import deferred
to its first use:

| import                  | costs  | deferred in                                       |
|-------------------------|--------|---------------------------------------------------|
| networkx                | 90 ms  | `networkx()` here: while the first connections open |
| jinja2 and its parts    | 26 ms  | engine/templating.py: at the first `{{ }}`        |
| fabric + paramiko       | 101 ms | engine/connection/__init__.py: the first SSH host |
| invoke (local sudo)     | 68 ms  | engine/connection/local.py: the first local become |
| rich (live console)     | 33 ms  | engine/run.py `_sinks`: on a terminal only        |
| the HTML report         | 6 ms   | engine/run.py `_sinks`: with --report only        |
| etcd3gw + requests      | 145 ms | engine/registry/__init__.py: an etcd registry only |
| the container stage     | 31 ms  | engine/wiring.py `wire`, checks/rendered.py: containers only |
| the task runner         | 5 ms   | engine/wiring.py `wire`: not for `play graph`     |
| engine.run, inventories | 85 ms  | engine/commands/: once the options are parsed     |
| the other subcommands   | 9 ms   | engine/cli.py: the one asked for only             |
| engine.vault (+ hmac)   | 6 ms   | the vault gate below: a vaulted value or password |
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

# what ansible-vault's output starts with (engine/vault.py reads the rest)
VAULT_HEADER = "$ANSIBLE_VAULT;"
# Ansible's variable for a vault password file, read as --vault-password-file is
VAULT_PASSWORD_FILE_VARIABLE = "ANSIBLE_VAULT_PASSWORD_FILE"


def networkx() -> ModuleType:
    """The plan's graph library. engine/plan/ asks for it when it builds a plan, which a
    run does once the hosts are known and their first connections have started."""
    return importlib.import_module("networkx")


@contextmanager
def paused_gc() -> Iterator[None]:
    """Preparing a run imports most modules and builds the plan: objects that live as long
    as the run. The cyclic GC would scan them over and over while they are made (~10% of
    start-up); frozen after, later collections skip them too."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


# --- the vault gate: engine.vault is imported by what needs it (engine/yamlfile.py at a
# `!vault` value or an encrypted file, engine/commands/options.py when a password is given);
# a command that meets neither never imports it, and then nothing was decrypted.

def is_vaulted(text: str) -> bool:
    """Whether `text` is what ansible-vault writes (a whole encrypted file or a value)."""
    return text.lstrip().startswith(VAULT_HEADER)


def is_vault_password_given(password_files: list[str], vault_ids: list[str],
                            ask: bool) -> bool:
    """Whether the command line (or ANSIBLE_VAULT_PASSWORD_FILE) gives a vault password."""
    return bool(password_files or vault_ids or ask or os.environ.get(VAULT_PASSWORD_FILE_VARIABLE))


def loaded_vault() -> ModuleType | None:
    """engine.vault when something imported it; None: no password given, nothing decrypted."""
    return sys.modules.get("engine.vault")


@contextmanager
def own_vault_keyring() -> Iterator[None]:
    """A command decrypts with its own passwords and records its own plaintexts: a fresh
    keyring when engine.vault is already loaded (another command in this process), and
    when the command is what loaded it, what it left forgotten at its end."""
    vault = loaded_vault()
    if vault is not None:
        with vault.unlocked(vault.Keyring()):
            yield
        return
    try:
        yield
    finally:
        vault = loaded_vault()
        if vault is not None:
            vault.forget()
