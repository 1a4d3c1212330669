"""`service` / `systemd`: a service started, stopped, restarted or reloaded, and enabled or
not at boot. systemd where it runs (/run/systemd/system, as sd_booted checks), else the
distribution's init scripts: /etc/init.d/NAME with its LSB `status`, and update-rc.d's
links for `enabled` (Debian). One command reads the state; one chained command applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.actions.base import Action, ActionContext, ActionError, Change, Outcome
from engine.actions.files import chained, run_checked
from engine.schema import as_boolean

STATES = ("started", "stopped", "restarted", "reloaded")
# $1 name. Output lines: systemd|sysv, active|inactive, enabled|disabled|static|..., and
# for systemd the unit's LoadState (not-found: no such unit).
READ_SCRIPT = """name=$1
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  echo systemd
  systemctl is-active --quiet -- "$name" && echo active || echo inactive
  systemctl is-enabled -- "$name" 2>/dev/null || echo disabled
  systemctl show -p LoadState --value -- "$name"
  exit 0
fi
script=/etc/init.d/$name
if [ ! -x "$script" ]; then
  echo "no service $name: no systemd on this host and no init script $script" >&2; exit 1
fi
echo sysv
"$script" status >/dev/null 2>&1 && echo active || echo inactive
if ls /etc/rc[2345].d/S[0-9][0-9]"$name" >/dev/null 2>&1; then echo enabled
else echo disabled; fi"""


@dataclass(frozen=True)
class CurrentService:
    manager: str                    # systemd | sysv
    is_active: bool
    enabled: str                    # enabled | disabled | static | masked | ...
    is_known: bool = True           # systemd knows the unit


@dataclass(frozen=True)
class DesiredService:
    name: str
    state: str | None = None        # None: leave running or not as it is
    enabled: bool | None = None
    daemon_reload: bool = False


def parse_read(output: str) -> CurrentService:
    lines = [*output.split("\n"), "", "", ""]
    return CurrentService(lines[0], lines[1] == "active", lines[2].strip() or "disabled",
                          lines[0] != "systemd" or lines[3].strip() != "not-found")


def compare_service(current: CurrentService, desired: DesiredService) -> tuple[Change,
                                                                                 list[str]]:
    """Pure: what would change, and the verbs (start, stop, restart, reload, enable,
    disable) that change it, in order. restarted and reloaded always act (Ansible)."""
    if not current.is_known:
        raise ActionError(f"no service {desired.name}: systemd has no such unit")
    verbs: list[str] = []
    if desired.state == "started" and not current.is_active:
        verbs.append("start")
    elif desired.state == "stopped" and current.is_active:
        verbs.append("stop")
    elif desired.state == "restarted":
        verbs.append("restart")
    elif desired.state == "reloaded":
        verbs.append("reload" if current.is_active else "start")
    if desired.enabled is True and current.enabled not in ("enabled", "static", "alias"):
        verbs.append("enable")
    elif desired.enabled is False and current.enabled == "enabled":
        verbs.append("disable")
    return Change(tuple(f"{verb} {desired.name}" for verb in verbs)), verbs


def apply_commands(manager: str, desired: DesiredService, verbs: list[str]) -> list[list[str]]:
    name = desired.name
    commands: list[list[str]] = []
    if manager == "systemd":
        if desired.daemon_reload:
            commands.append(["systemctl", "daemon-reload"])
        return commands + [["systemctl", verb, "--", name] for verb in verbs]
    for verb in verbs:
        if verb == "enable":
            commands += [["update-rc.d", name, "defaults"], ["update-rc.d", name, "enable"]]
        elif verb == "disable":
            commands.append(["update-rc.d", name, "disable"])
        else:
            commands.append([f"/etc/init.d/{name}", verb])
    return commands


def desired_from(args: Mapping[str, Any]) -> DesiredService:
    name = str(args["name"])
    if not name or name.startswith("-") or "/" in name:
        raise ActionError(f"name must be a service name such as 'ssh', not {name!r}")
    state = None if args.get("state") is None else str(args["state"])
    if state is not None and state not in STATES:
        raise ActionError(f"state must be one of {', '.join(STATES)}, not {state!r}")
    enabled = None if args.get("enabled") is None else as_boolean(args["enabled"], "enabled")
    if state is None and enabled is None:
        raise ActionError("give state (started, stopped, restarted, reloaded) or enabled")
    return DesiredService(name, state, enabled,
                          as_boolean(args.get("daemon_reload"), "daemon_reload"))


def service(args: Mapping[str, Any], context: ActionContext) -> Outcome:
    desired = desired_from(args)
    output = run_checked(context, ["/bin/sh", "-c", READ_SCRIPT, "play-service", desired.name],
                         f"reading service {desired.name}")
    current = parse_read(output)
    change, verbs = compare_service(current, desired)
    facts = {"name": desired.name, "state": "started" if current.is_active else "stopped",
             "enabled": current.enabled == "enabled", "manager": current.manager}
    if not change.is_needed:
        return Outcome(msg=f"{desired.name} is already as desired", facts=facts)
    summary = "; ".join(change.what)
    if context.check:
        return Outcome(changed=True, msg=f"would {summary}", facts=facts)
    run_checked(context, chained(apply_commands(current.manager, desired, verbs)), summary)
    return Outcome(changed=True, msg=summary, facts=facts)


ACTIONS: dict[str, Action] = {"service": service, "systemd": service,
                              "systemd_service": service}
