"""What one (host, step) node does when the scheduler starts it: render the task for
that host, honour when / loop / retries / until / changed_when / failed_when, call the
action, register and notify. Containers and services have their own runners.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from engine.actions.base import ActionContext, ActionError, Outcome
from engine.actions.catalog import find_action
from engine.connection.pool import ConnectionPool
from engine.errors import UnreachableError
from engine.execute import Node
from engine.local_files import resolve_local_source
from engine.playbook import Play, Step, TaskSpec
from engine.playbook.keywords import loop_items, rendered_environment
from engine.results import Status, StepResult
from engine.schema import as_boolean
from engine.templating import (
    defined,
    evaluate,
    is_undefined_error,
    render,
    render_text,
    template_errors,
)
from engine.variables import Scope, host_scope, load_vars_files, playbook_dir, static_magic

if TYPE_CHECKING:
    from engine.inventory import Host, Inventory
    from engine.plan import Plan

HIDDEN = "(output hidden by no_log)"


@dataclass(frozen=True)
class StepOptions:
    check: bool = False
    diff: bool = False


@dataclass
class RunState:
    """What steps learn while the run goes on, per host."""

    registered: dict[str, dict[str, Any]] = field(default_factory=dict)
    notified: dict[str, set[str]] = field(default_factory=dict)
    # the notifications a handler has not answered yet: a handler run at a flush answers
    # them, so the handler at the end of the play runs only if notified again (containers
    # read `notified`, which a flush leaves alone)
    pending: dict[str, set[str]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def register(self, host: str, name: str, value: Any) -> None:
        with self.lock:
            self.registered.setdefault(host, {})[name] = value

    def notify(self, host: str, names: tuple[str, ...]) -> None:
        with self.lock:
            self.notified.setdefault(host, set()).update(names)
            self.pending.setdefault(host, set()).update(names)

    def is_notified(self, host: str, name: str) -> bool:
        with self.lock:
            return name in self.notified.get(host, set())

    def take_pending(self, host: str, name: str) -> bool:
        """Whether handler `name` has a notification to answer on `host`, answering it."""
        with self.lock:
            pending = self.pending.get(host, set())
            is_pending = name in pending
            pending.discard(name)
            return is_pending


class StepRunner:
    """Runs plan nodes; the scheduler's `run_node` callback."""

    def __init__(self, plan: Plan, inventory: Inventory, extra_vars: Mapping[str, Any],
                 pool: ConnectionPool, options: StepOptions,
                 lookups: Callable[[Play], Mapping[str, Any]] = lambda play: {}) -> None:
        self.plan = plan
        self.inventory = inventory
        self.extra_vars = extra_vars
        self.pool = pool
        self.options = options
        self.state = RunState()
        self.lookups = lookups
        # container and service steps are run by engine.containers, wired in by the run
        self.other_kinds: Mapping[str, Callable[[Node, Scope], StepResult]] = {}
        self._file_vars = {play.index: load_vars_files(play.vars_files)
                           for play in plan.playbook.plays}
        self._groups = {name: list(group.hosts) for name, group in inventory.groups.items()}
        self._hostvars = {name: host.vars for name, host in inventory.hosts.items()}
        self._playbook_dir = playbook_dir(plan.playbook.path)
        # The play's hosts and each host's batch, as lists built once and shared by every
        # scope (templates cannot change them: the sandbox is immutable); finding and
        # copying them per node made a run quadratic in its hosts.
        self._play_hosts = {placement.play: list(placement.hosts)
                            for placement in plan.placements}
        self._batch_of: dict[int, dict[str, list[str]]] = {}
        for placement in plan.placements:
            by_host = self._batch_of.setdefault(placement.play, {})
            for batch in placement.batches:
                members = list(batch)
                by_host.update(dict.fromkeys(batch, members))

    def scope(self, host: str, play: Play, task: TaskSpec | None = None) -> Scope:
        play_hosts, batch = self._play_hosts[play.index], self._batch_of[play.index].get(host, [])
        inventory_host = self.inventory.hosts[host]
        magic = {
            **static_magic(host, inventory_host.groups, self._groups, self._playbook_dir),
            "hostvars": self._hostvars,
            "play_hosts": batch, "ansible_play_hosts": play_hosts, "ansible_play_batch": batch,
            **self.lookups(play),
        }
        with self.state.lock:
            registered = dict(self.state.registered.get(host, {}))
        return host_scope(host, inventory_host.vars, play.vars, self._file_vars[play.index],
                          self.extra_vars, magic, registered,
                          task_vars=task.vars if task else {},
                          role_defaults=task.defaults if task else {})

    def __call__(self, node: Node) -> StepResult:
        try:
            return self._run_node(node)
        except UnreachableError as error:
            # the connection broke during the step: the host is lost for the rest of the
            # run, and the scheduler reports its other steps unreachable without trying
            self.pool.mark_lost(node[0], error.message)
            raise
        except Exception as error:
            # a bug: the scheduler reports it as an internal error with its message,
            # which may quote the task's values; a no_log task's must stay hidden
            if not self.is_no_log(node[1]):
                raise
            raise RuntimeError(f"{type(error).__name__} {HIDDEN}") from None

    def is_no_log(self, step_id: str) -> bool:
        body = self.plan.steps[step_id].body
        return isinstance(body, TaskSpec) and body.no_log is not False

    def _run_node(self, node: Node) -> StepResult:
        host, step_id = node
        step = self.plan.steps[step_id]
        play = self.plan.playbook.plays[step.play]
        started = time.monotonic()
        scope = self.scope(host, play, step.body if isinstance(step.body, TaskSpec) else None)
        if not isinstance(step.body, TaskSpec):
            return self.other_kinds[step.kind](node, scope)
        if step.kind == "handler" and not self.state.take_pending(host, step.name):
            return StepResult(host, step_id, "skipped", msg="not notified", is_hidden=True)
        return self._run_task_safely(host, step, play, step.body, scope, started)

    def _run_task_safely(self, host: str, step: Step, play: Play, task: TaskSpec,
                         scope: Scope, started: float) -> StepResult:
        """The task's result; a template or action error is a failed result, not a raise."""
        try:
            result = self._run_task(host, step, play, task, scope, started)
        except template_errors(ActionError, ValueError, TypeError) as error:
            message = HIDDEN if _is_hidden(task, scope) else _template_message(error)
            result = StepResult(host, step.id, "failed", msg=message,
                                duration=time.monotonic() - started,
                                is_ignored=_is_ignored(task, scope))
        if result.status == "failed" and step.id in self.plan.rescued and not result.is_ignored:
            return replace(result, is_rescued=True)
        return result

    def _flush_handlers(self, host: str, play: Play) -> Outcome:
        """meta: flush_handlers: the play's handlers notified so far on `host` run now, in
        their listed order, each once; the handler steps at the end of the play run only
        for what is notified after this point (Ansible's semantics)."""
        ran: list[StepResult] = []
        for handler in play.steps_of("handler"):
            if isinstance(handler.body, TaskSpec) and self.state.take_pending(host,
                                                                               handler.name):
                ran.append(self._run_task_safely(host, handler, play, handler.body,
                                                 self.scope(host, play, handler.body),
                                                 time.monotonic()))
        if not ran:
            return Outcome(msg="no handler was notified")
        summary = ", ".join(f"{self.plan.steps[result.step].name} ({result.status})"
                            + (f": {result.msg}" if result.status == "failed" else "")
                            for result in ran)
        return Outcome(changed=any(result.status == "changed" for result in ran),
                       failed=any(result.status == "failed" and not result.is_ignored
                                  for result in ran),
                       msg=f"ran handlers: {summary}", shows_msg=True)

    def refresh(self, host: str, step: Step) -> StepResult:
        """Run a task again, outside the plan, with what the run knows now (a template of
        the registry's services after they changed): once, no loop, no register; it
        notifies nobody, its caller reloads what needs it (engine/consumers.py)."""
        play = self.plan.playbook.plays[step.play]
        task = step.body
        assert isinstance(task, TaskSpec)
        scope = self.scope(host, play, task)
        try:
            if task.when is not None and not evaluate(task.when, scope):
                return StepResult(host, step.id, "skipped", msg="condition is false")
            outcome = self._once(host, play, task, scope)
        except template_errors(ActionError, ValueError, TypeError) as error:
            message = HIDDEN if _is_hidden(task, scope) else _template_message(error)
            return StepResult(host, step.id, "failed", msg=message)
        status: Status = "failed" if outcome.failed else (
            "changed" if outcome.changed else "ok")
        return StepResult(host, step.id, status,
                          msg=HIDDEN if _is_hidden(task, scope) else outcome.msg)

    def _run_task(self, host: str, step: Step, play: Play, task: TaskSpec,
                  scope: Scope, started: float) -> StepResult:
        if task.when is not None and not evaluate(task.when, scope):
            return StepResult(host, step.id, "skipped", msg="condition is false",
                              duration=time.monotonic() - started)
        items = loop_items(task.loop_kind, render(task.loop, scope)) \
            if task.loop is not None else None
        outcomes, item_scopes = self._outcomes(host, play, task, scope, items)
        changed = any(outcome.changed for outcome in outcomes)
        failed = any(outcome.failed for outcome in outcomes)
        if task.register:
            value = outcomes[0].registered() if items is None else {
                "changed": changed, "failed": failed,
                "results": [{**outcome.registered(), **_loop_values(task, index, item),
                             "ansible_loop_var": task.loop_var}
                            for index, (outcome, item) in enumerate(zip(outcomes, items,
                                                                       strict=True))]}
            self.state.register(host, task.register, value)
        if changed and not failed:
            self.state.notify(host, task.notify)
        status: Status = "failed" if failed else "changed" if changed else (
            "skipped" if all(outcome.skipped for outcome in outcomes) else "ok")
        if task.label is not None and items is not None:
            message = "; ".join(_labelled(render(task.label, item_scope), outcome)
                                for outcome, item_scope in zip(outcomes, item_scopes,
                                                               strict=True))
        else:
            message = "; ".join(outcome.msg for outcome in outcomes if outcome.msg)
        diff = "".join(outcome.diff for outcome in outcomes if outcome.diff) or None
        if _is_hidden(task, scope):
            message, diff = HIDDEN, None
        shows_msg = any(outcome.shows_msg for outcome in outcomes)
        # built once, with its duration: a dataclasses.replace per step cost as much again
        return StepResult(host, step.id, status, msg=message, diff=diff,
                          duration=time.monotonic() - started,
                          is_ignored=failed and flag(task.ignore_errors, scope, "ignore_errors"),
                          shows_msg=shows_msg,
                          # an implicit flush that ran no handler: nothing happened
                          is_hidden=task.is_implicit and status == "ok" and not shows_msg)

    def _outcomes(self, host: str, play: Play, task: TaskSpec, scope: Scope,
                  items: list[Any] | None) -> tuple[list[Outcome], list[Scope]]:
        """One outcome, or one per loop item, each with the scope it ran in (a label is
        rendered in it). What set_fact sets is kept for the host's later steps at once,
        and later items of the same loop see it (as in Ansible)."""
        if items is None:
            outcome = self._attempts(host, play, task, scope)
            self._keep_vars(host, outcome)
            return [outcome], [scope]
        learned: dict[str, Any] = {}
        outcomes, scopes = [], []
        for index, item in enumerate(items):
            item_scope = scope.child({**learned, **_loop_values(task, index, item)})
            outcome = self._attempts(host, play, task, item_scope)
            learned.update(outcome.ansible_facts)
            self._keep_vars(host, outcome)
            outcomes.append(outcome)
            scopes.append(item_scope)
        return outcomes, scopes

    def _keep_vars(self, host: str, outcome: Outcome) -> None:
        if outcome.failed:
            return
        for name, value in outcome.ansible_facts.items():
            self.state.register(host, name, value)

    def _attempts(self, host: str, play: Play, task: TaskSpec, scope: Scope) -> Outcome:
        """retries / until / delay as in Ansible (retries defaults to 3 with `until`)."""
        retries = render(task.retries, scope) if task.retries is not None else (
            3 if task.until else 0)
        delay = float(render(task.delay, scope)) if task.delay is not None else 5.0
        for attempt in range(int(retries) + 1):
            outcome = self._once(host, play, task, scope)
            if task.until is None:
                return outcome
            own = scope.child({task.register: outcome.registered()} if task.register else {})
            if evaluate(task.until, own):
                return outcome
            if attempt < int(retries):
                time.sleep(delay)
        return Outcome(changed=outcome.changed, failed=True, msg=f"still failing the `until` "
                       f"condition after {int(retries) + 1} attempts: {outcome.msg}",
                       rc=outcome.rc, stdout=outcome.stdout, stderr=outcome.stderr)

    def _once(self, host: str, play: Play, task: TaskSpec, scope: Scope) -> Outcome:
        inventory_host = self.inventory.hosts[host]
        become = _first_set(task.become, play.become, inventory_host.become)
        become_user = _become_user(task, play, inventory_host, scope)
        context = ActionContext(
            connection=self.pool.get(self._delegated(host, task, scope)),
            check=self.options.check, diff=self.options.diff,
            become=flag(become, scope, "become"),
            timeout=float(render(task.timeout, scope)) if task.timeout is not None else None,
            render_file=lambda path: str(render_text(_read(path), scope)),
            evaluate=lambda expression: _evaluate_for_action(expression, scope),
            flush_handlers=lambda: self._flush_handlers(host, play),
            become_user=None if become_user is None else str(render(become_user, scope)),
            # the task's variables over the play's, as Ansible merges them
            environment={**rendered_environment(render(play.environment, scope)),
                         **rendered_environment(render(task.environment, scope))})
        args = resolve_local_source(task.action, render(task.args, scope),
                                    task.sources or play.source.file)
        outcome = find_action(task.action)(args, context)
        if task.changed_when is None and task.failed_when is None:
            return outcome
        own = scope.child({task.register: outcome.registered()} if task.register else {})
        changed = outcome.changed if task.changed_when is None else bool(
            evaluate(task.changed_when, own))
        failed = outcome.failed if task.failed_when is None else bool(
            evaluate(task.failed_when, own))
        return replace(outcome, changed=changed, failed=failed)

    def _delegated(self, host: str, task: TaskSpec, scope: Scope) -> str:
        """The host whose connection runs the task: `delegate_to` (rendered with this host's
        variables), else the host itself."""
        if task.delegate_to is None:
            return host
        target = str(render(task.delegate_to, scope))
        if not self.pool.knows(target):
            raise ValueError(f"delegate_to {target!r} is not a host of the inventory (nor "
                             "localhost)")
        return target


def _loop_values(task: TaskSpec, index: int, item: Any) -> dict[str, Any]:
    """What one loop item sets: `item` (or loop_control's loop_var), and its index_var."""
    values = {task.loop_var: item}
    if task.index_var is not None:
        values[task.index_var] = index
    return values


def _labelled(label: Any, outcome: Outcome) -> str:
    """One item's line in the output, named by loop_control's label (as Ansible's
    `(item=label)`)."""
    state = "failed" if outcome.failed else "changed" if outcome.changed else (
        "skipped" if outcome.skipped else "ok")
    return f"(item={label}) {state}" + (f": {outcome.msg}" if outcome.msg else "")


def flag(value: Any, scope: Mapping[str, Any], keyword: str) -> bool:
    """A boolean keyword, rendered for this host and read as Ansible reads booleans."""
    return as_boolean(render(value, scope), keyword)


def _become_user(task: TaskSpec, play: Play, host: Host, scope: Mapping[str, Any]) -> Any:
    """Ansible's precedence, checked against ansible-playbook 2.19: the variable
    `ansible_become_user`, from wherever the host's variables take it (inventory, play vars,
    a block's or task's vars, -e), wins over every keyword, and so does the inventory's
    `become_user`; then the keyword, the task's (or what its blocks and role give it) over
    the play's."""
    if "ansible_become_user" in scope:
        return scope["ansible_become_user"]
    return next((value for value in (host.become_user, task.become_user, play.become_user)
                 if value is not None), None)


def _is_hidden(task: TaskSpec, scope: Mapping[str, Any]) -> bool:
    """no_log; one that cannot render or is no boolean hides too (the safe side)."""
    try:
        return flag(task.no_log, scope, "no_log")
    except template_errors(ValueError, TypeError):
        return True


def _is_ignored(task: TaskSpec, scope: Mapping[str, Any]) -> bool:
    try:
        return flag(task.ignore_errors, scope, "ignore_errors")
    except template_errors(ValueError, TypeError):
        return False


def _first_set(*values: Any) -> Any:
    return next((value for value in values if value is not None), False)


def _evaluate_for_action(expression: str, scope: Scope) -> Any:
    """An expression for an action (debug's var, assert's that): an undefined name or a bad
    expression is the action's error, which it may report its own way."""
    try:
        return defined(evaluate(expression, scope))
    except template_errors(ValueError, TypeError) as error:
        raise ActionError(_template_message(error)) from None


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as source:
        return source.read()


def _template_message(error: Exception) -> str:
    if is_undefined_error(error):
        return f"undefined variable: {getattr(error, 'message', error)}"
    return str(error)

