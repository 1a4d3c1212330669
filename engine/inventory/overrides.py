"""What the command line says about reaching every host (`-u`, `-b`, `-K`, `-k`), laid
under the inventory as Ansible does: a command-line option is the lowest layer, so a
host's own `ansible_user`, `become` or password variable wins over it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from engine.inventory.connection_vars import ALIASES
from engine.inventory.model import Host, Inventory

# Ansible's SSH password variables; engine/connection/settings.py reads them, and the
# redaction treats them as secrets without being listed.
SSH_PASSWORD_VARIABLES = ("ansible_password", "ansible_ssh_pass")


@dataclass(frozen=True)
class ConnectionDefaults:
    user: str | None = None             # -u
    become: bool = False                # -b
    become_password: str | None = None  # -K, prompted
    ssh_password: str | None = None     # -k, prompted

    @property
    def is_empty(self) -> bool:
        return self == ConnectionDefaults()


def _sets(host: Host, name: str) -> bool:
    return any(host.vars.get(key) is not None for key in (name, *ALIASES.get(name, ())))


def _with_defaults(host: Host, defaults: ConnectionDefaults) -> Host:
    variables = dict(host.vars)
    become_password = host.become_password
    if defaults.become_password is not None and become_password is None:
        # as a variable too: the run hides every secret variable's value in its output
        become_password = variables["become_password"] = defaults.become_password
    if defaults.ssh_password is not None and not any(
            variables.get(name) is not None for name in SSH_PASSWORD_VARIABLES):
        variables["ansible_password"] = defaults.ssh_password
    return dataclasses.replace(
        host, vars=variables, user=host.user or defaults.user,
        ssh_password=host.ssh_password or defaults.ssh_password,
        become=host.become if _sets(host, "become") else (host.become or defaults.become),
        become_password=become_password)


def with_connection_defaults(inventory: Inventory, defaults: ConnectionDefaults) -> Inventory:
    """The inventory with the command line's connection options under every host's own."""
    if defaults.is_empty:
        return inventory
    hosts = {name: _with_defaults(host, defaults) for name, host in inventory.hosts.items()}
    return dataclasses.replace(inventory, hosts=hosts)
