"""Which hosts a run connects to and how: every host of the plan, the file registries'
hosts and the delegation targets, with one login per host (`remote_user`); and the first
hosts, whose connections open while the plan is still being built and checked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from engine.connection import settings_for
from engine.errors import InputError, Location
from engine.inventory import implicit_localhost
from engine.playbook.model import TaskSpec
from engine.templating import is_template

if TYPE_CHECKING:
    from engine.batches import PlayPlacement
    from engine.connection import ConnectionSettings
    from engine.inventory import Inventory
    from engine.plan import Plan
    from engine.registry import RegistryConfig


def connection_settings(plan: Plan, inventory: Inventory,
                        registries: Sequence[RegistryConfig]) -> dict[str, ConnectionSettings]:
    """How to reach every host of the plan and every file registry host; a bad connection
    var raises `InputError` (exit 4 before anything runs, `play graph` included)."""
    hosts = {host for host, _ in plan.nodes}
    hosts |= {config.host for config in registries if config.host is not None}
    delegated = {step.body.delegate_to for step in plan.steps.values()
                 if isinstance(step.body, TaskSpec) and step.body.delegate_to is not None}
    if any(is_template(target) for target in delegated):
        hosts |= set(inventory.hosts)  # known only once rendered: every host may be one
    for step in plan.steps.values():
        target = step.body.delegate_to if isinstance(step.body, TaskSpec) else None
        if target is not None and not is_template(target) and target != "localhost" and \
                target not in inventory.hosts:
            raise InputError(f"task {step.name!r} is delegated to {target!r}, which is not a "
                             "host of the inventory; name an inventory host, or localhost "
                             "for the control node", step.source)
    hosts |= {target for target in delegated if target in inventory.hosts}
    logins = _remote_users(plan, inventory)
    settings = {host: settings_for(dataclasses.replace(inventory.hosts[host], user=logins[host])
                                   if host in logins else inventory.hosts[host])
                for host in sorted(hosts)}
    if "localhost" not in inventory.hosts and delegated:
        # Ansible's implicit localhost: the control node, reached without SSH
        settings["localhost"] = settings_for(implicit_localhost())
    return settings


def _remote_users(plan: Plan, inventory: Inventory) -> dict[str, str]:
    """The login `remote_user` (a play's or a task's) asks for on each host that the
    inventory names no user for (Ansible's precedence: `ansible_user` wins over the
    keyword). A host keeps one SSH connection for the run, so one login per host."""
    wanted: dict[str, dict[str, Location]] = {}
    for host, step_id in plan.nodes:
        step = plan.steps[step_id]
        play = plan.playbook.plays[step.play]
        user = step.body.remote_user if isinstance(step.body, TaskSpec) and \
            step.body.remote_user is not None else play.remote_user
        if user is not None and inventory.hosts[host].user is None:
            wanted.setdefault(host, {}).setdefault(str(user), step.source)
    for host, users in wanted.items():
        if len(users) > 1:
            (first, _), (second, at) = list(users.items())[:2]
            raise InputError(f"host {host!r} would log in as {first!r} and as {second!r} "
                             "(remote_user); play keeps one SSH connection per host: log in as "
                             "one user and switch with `become: true` and `become_user:`", at)
    return {host: next(iter(users)) for host, users in wanted.items()}


def first_hosts(inventory: Inventory, placements: Sequence[PlayPlacement],
                forks: int) -> list[ConnectionSettings]:
    """How to reach the hosts the scheduler starts on: the first batch of the first play
    with hosts, in name order as the scheduler takes them, at most `forks`. Only SSH
    hosts with known host keys: under accept-new a connection writes known_hosts, which
    must wait until the input is checked. Wrong connection vars are left to the usual
    exit 4."""
    batch = next((placement.batches[0] for placement in placements if placement.batches), ())
    chosen = []
    for name in sorted(batch)[:forks]:
        host = inventory.hosts[name]
        if host.connection != "ssh":
            continue
        try:
            settings = settings_for(host)
        except InputError:
            continue
        if settings.host_key_policy == "strict":
            chosen.append(settings)
    return chosen
