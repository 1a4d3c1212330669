"""The actions that steer a run and touch no host: `debug`, `fail`, `assert`, `set_fact`
and `meta`, with Ansible's arguments. Their expressions are evaluated with the task's own
variables (the context's `evaluate`, the language of `when:`); `set_fact` hands its values
back to the task runner, which keeps them for the host's later steps as it keeps `register`.
"""

from __future__ import annotations

import json
import keyword
from collections.abc import Mapping
from typing import Any

from engine.actions.base import Action, ActionContext, ActionError, Outcome

NOT_DEFINED = "VARIABLE IS NOT DEFINED!"   # what Ansible's debug prints for an undefined var
META_ACTIONS = ("flush_handlers", "noop")
META_HINTS = {
    "end_play": "put `when:` on the steps that should not run",
    "end_host": "put `when:` on the steps that should not run",
    "end_batch": "put `when:` on the steps that should not run",
    "refresh_inventory": "play reads the inventory once, before the run",
    "clear_facts": "play keeps no fact cache between runs",
    "clear_host_errors": "a failed host's later steps are skipped for this run only",
    "reset_connection": "play opens one connection per host per run; split the play",
}


def debug(args: Mapping[str, Any], context: ActionContext) -> Outcome:
    if args.get("msg") is not None and args.get("var") is not None:
        raise ActionError("debug takes msg or var, not both")
    if _verbosity(args) > 0:
        # play has no -v; Ansible shows such a message only at that verbosity
        return Outcome(skipped=True, msg=f"verbosity {_verbosity(args)} (play has no -v)")
    if args.get("var") is not None:
        name = str(args["var"])
        try:
            value = context.evaluate(name)
        except ActionError:
            value = NOT_DEFINED
        return Outcome(msg=f"{name}: {shown(value)}", shows_msg=True, facts={name: value})
    message = args.get("msg", "Hello world!")
    return Outcome(msg=shown(message), shows_msg=True)


def shown(value: Any) -> str:
    """A value as debug prints it: text as it is, anything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str, sort_keys=True)


def fail(args: Mapping[str, Any], context: ActionContext) -> Outcome:
    return Outcome(failed=True, msg=shown(args.get("msg", "Failed as requested from task")))


def assert_(args: Mapping[str, Any], context: ActionContext) -> Outcome:
    """Every condition of `that` must hold; the first that does not fails the step."""
    conditions = args["that"] if isinstance(args["that"], list) else [args["that"]]
    for condition in conditions:
        try:
            holds = bool(context.evaluate(str(condition))) if isinstance(
                condition, str) else bool(condition)
        except ActionError as error:
            raise ActionError(f"the condition {condition!r} cannot be evaluated: {error}") \
                from None
        if not holds:
            message = args.get("fail_msg", args.get("msg"))
            text = shown(message) if message is not None else f"assertion failed: {condition}"
            return Outcome(failed=True, msg=text,
                           facts={"assertion": condition, "evaluated_to": False})
    message = args.get("success_msg", "All assertions passed")
    return Outcome(msg=shown(message), shows_msg=not args.get("quiet"))


def set_fact(args: Mapping[str, Any], context: ActionContext) -> Outcome:
    facts = {str(name): value for name, value in args.items() if name != "cacheable"}
    if not facts:
        raise ActionError("set_fact needs at least one NAME: value")
    for name in facts:
        problem = variable_name_problem(name)
        if problem:
            raise ActionError(problem)
    return Outcome(facts={"ansible_facts": facts}, ansible_facts=facts)


def variable_name_problem(name: str) -> str | None:
    """Why `name` cannot be a variable (Ansible's rule: a Python identifier), or None."""
    if not name.isidentifier() or keyword.iskeyword(name):
        return f"{name!r} is not a valid variable name (letters, digits and _, not first " \
               "a digit)"
    return None


def meta(args: Mapping[str, Any] | str, context: ActionContext) -> Outcome:
    what = args if isinstance(args, str) else str(args.get("free_form", ""))
    if what == "flush_handlers":
        return context.flush_handlers()
    if what == "noop":
        return Outcome()
    raise ActionError(meta_problem(what) or f"meta: {what} is not supported")


def meta_problem(what: str) -> str | None:
    """Why `meta: what` cannot load, with what to write instead; None when it can."""
    if what in META_ACTIONS:
        return None
    hint = META_HINTS.get(what)
    return f"meta: {what} is not supported ({hint}; see docs/coming-from-ansible.md)" if hint \
        else f"meta must be one of {', '.join(META_ACTIONS)}, not {what!r}"


def _verbosity(args: Mapping[str, Any]) -> int:
    try:
        return int(args.get("verbosity") or 0)
    except (TypeError, ValueError):
        raise ActionError(f"verbosity must be a number, not {args.get('verbosity')!r}") \
            from None


ACTIONS: dict[str, Action] = {"debug": debug, "fail": fail, "assert": assert_,
                              "set_fact": set_fact, "meta": meta}
