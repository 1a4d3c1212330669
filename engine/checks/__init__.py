"""Before anything runs: every template in the plan must parse and every variable it
reads must be defined for each host that renders it (SPEC: undefined variables are
errors, never an empty string; `undefined.py`). Values rendered for a host must also be
ones Docker, POSIX and the registry accept (`rendered.py`, with the rules of
engine/playbook/values.py). Each host's variables come from `variables.host_scope`, the
builder the task runner uses too.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from engine.checks.rendered import PlayRenders, RenderedValues
from engine.checks.undefined import FACT_VARIABLES, HostChecker, templated_values
from engine.playbook import Play, TaskSpec
from engine.templating import MAGIC_VARIABLES
from engine.variables import host_scope, load_vars_files, playbook_dir, static_magic

if TYPE_CHECKING:
    from engine.inventory import Inventory
    from engine.plan import Plan


def check_variables(plan: Plan, inventory: Inventory, extra_vars: Mapping[str, Any]) -> None:
    """Raise `InputError` for the first template that cannot render on some host."""
    registered: set[str] = set()
    groups = {name: list(group.hosts) for name, group in inventory.groups.items()}
    folder = playbook_dir(plan.playbook.path)
    # each step's templated strings, found once instead of once per host (at 10,000 hosts
    # the walk took seconds)
    step_values = {step.id: tuple(templated_values(step)) for step in plan.steps.values()}
    for placement in plan.placements:
        play = plan.playbook.plays[placement.play]
        registered |= set(_names_set_at_run_time(play))
        file_vars = load_vars_files(play.vars_files)
        renders = PlayRenders(play.name, ChainMap(dict(extra_vars), file_vars, play.vars),
                              registered)
        for host in placement.hosts:
            inventory_host = inventory.hosts[host]
            # the magic variables known before the run; the others (hostvars, play_hosts,
            # services, ...) exist only while it runs (MAGIC_VARIABLES names them all)
            magic = static_magic(host, inventory_host.groups, groups, folder)
            scope = host_scope(host, inventory_host.vars, play.vars, file_vars, extra_vars,
                               magic)
            known = MAGIC_VARIABLES | registered | (FACT_VARIABLES if play.gather_facts else set())
            checker = HostChecker(host, scope, known, step_values)
            values = RenderedValues(host, scope, renders)
            for step in play.steps:
                if isinstance(step.body, TaskSpec) and (step.body.vars or step.body.defaults):
                    # a role's or block's task: its own vars and the role's defaults too
                    own = host_scope(host, inventory_host.vars, play.vars, file_vars,
                                     extra_vars, magic, task_vars=step.body.vars,
                                     role_defaults=step.body.defaults)
                    shared = ChainMap(dict(extra_vars), step.body.vars, file_vars, play.vars)
                    HostChecker(host, own, known, step_values).check_step(play, step)
                    RenderedValues(host, own, PlayRenders(play.name, shared, registered)
                                    ).check_step(step)
                    continue
                checker.check_step(play, step)
                values.check_step(step)


def _names_set_at_run_time(play: Play) -> Iterator[str]:
    """The variables a play's tasks make while it runs: `register` and set_fact's names."""
    for step in play.steps:
        task = step.body
        if isinstance(task, TaskSpec):
            if task.register:
                yield task.register
            if task.action == "set_fact" and isinstance(task.args, Mapping):
                yield from (str(name) for name in task.args)
