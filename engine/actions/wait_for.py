"""`wait_for`: a port listening, a path present or a container healthy (or the reverse).

The polling loop runs on the host as one command (a probe every 0.2 s until a deadline),
not one round trip per probe. It never changes anything: ok, or failed with what it saw.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.actions.base import Action, ActionContext, ActionError, Outcome
from engine.actions.catalog import CATALOG

# The container's health when it has a health check and runs, else its plain status.
CONTAINER_STATUS = ("{{if and .State.Running .State.Health}}{{.State.Health.Status}}"
                    "{{else}}{{.State.Status}}{{end}}")

# Listening TCP sockets are read from /proc/net/tcp{,6} (state 0A) so that the host needs
# neither ss nor nc; Python computes the hex "address:port" forms that would accept.
LISTENING = """cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v want=" $addresses " \
-v port="$port" '$4 == "0A" && substr($2, length($2) - 4) == port && (want == " * " || \
index(want, " " substr($2, 1, length($2) - 5) " ")) { found = 1 } END { exit !found }'"""

# $1 kind, $2 acceptable observations (space separated), $3 timeout in centiseconds,
# $4 delay in seconds, $5 path or container, $6 hex addresses ("*": any), $7 ":PORT" hex.
# Prints the last observation; exit status 0 once it was acceptable, 1 at the deadline.
WAIT_SCRIPT = f"""kind=$1 want=$2 timeout=$3 delay=$4 target=$5 addresses=$6 port=$7
now() {{ read -r up _ < /proc/uptime; up=${{up%.*}}${{up#*.}}; echo "$up"; }}
probe() {{
  case $kind in
    path) if [ -e "$target" ] || [ -L "$target" ]; then seen=present; else seen=absent; fi ;;
    port) if {LISTENING}; then seen=started; else seen=stopped; fi ;;
    container) seen=$(docker inspect --type container -f '{CONTAINER_STATUS}' -- "$target" \
2>/dev/null) || seen=absent ;;
  esac
}}
if [ "$delay" != 0 ]; then sleep "$delay"; fi
deadline=$(( $(now) + timeout ))
while :; do
  probe
  case " $want " in *" $seen "*) echo "$seen"; exit 0 ;; esac
  if [ "$(now)" -ge "$deadline" ]; then break; fi
  sleep 0.2
done
echo "$seen"
exit 1"""

ACCEPTED = {
    ("path", True): "present", ("path", False): "absent",
    ("port", True): "started", ("port", False): "stopped",
    ("container", True): "healthy running", ("container", False): "created exited dead absent",
}
UP_STATES = ("started", "present", "healthy")
DOWN_STATES = ("stopped", "absent")


@dataclass(frozen=True)
class DesiredWait:
    kind: str               # path | port | container
    target: str             # the path, "host:port", or the container name
    accepted: str           # observations that end the wait
    timeout: float
    delay: float
    addresses: str = ""     # for ports: hex local addresses that accept, or "*"
    port: str = ""


def proc_net_addresses(host: str) -> list[str]:
    """The /proc/net/tcp{,6} forms of every local address a connection to `host` can reach:
    the address itself, the wildcard, and for IPv4 the IPv4-mapped IPv6 forms. Each 32-bit
    word appears in both byte orders, so little- and big-endian hosts both match."""
    if host == "localhost":
        return [*proc_net_addresses("127.0.0.1"), *proc_net_addresses("::1")]
    address = ipaddress.ip_address(host)
    if isinstance(address, ipaddress.IPv4Address):
        mapped = ipaddress.IPv6Address(f"::ffff:{address}")
        candidates = [address.packed, bytes(4), mapped.packed, bytes(16)]
    else:
        candidates = [address.packed, bytes(16)]
    forms = []
    for packed in candidates:
        words = [packed[i:i + 4] for i in range(0, len(packed), 4)]
        forms.append("".join(word[::-1].hex().upper() for word in words))
        forms.append(packed.hex().upper())
    return list(dict.fromkeys(forms))


def desired_from(args: Mapping[str, Any]) -> DesiredWait:
    """Pure: what to probe and what observations end the wait."""
    kinds = [kind for kind in ("port", "path", "container") if args.get(kind) not in (None, "")]
    if len(kinds) != 1:
        raise ActionError("wait_for takes exactly one of port, path or container")
    kind, state = kinds[0], str(args.get("state") or "started")
    if state not in CATALOG["wait_for"].choices["state"]:
        raise ActionError(f"state must be one of {', '.join(UP_STATES + DOWN_STATES)}, "
                          f"not {state!r}")
    accepted = ACCEPTED[(kind, state in UP_STATES)]
    if kind == "container" and state == "absent":
        accepted = "absent"
    timeout, delay = _seconds(args, "timeout", 60), _seconds(args, "delay", 0)
    if kind != "port":
        return DesiredWait(kind, str(args[kind]), accepted, timeout, delay)
    return _port_wait(args, accepted, timeout, delay)


def _port_wait(args: Mapping[str, Any], accepted: str, timeout: float, delay: float) -> DesiredWait:
    try:
        port = int(args["port"])
    except (TypeError, ValueError):
        port = 0
    if not 0 < port < 65536:
        raise ActionError(f"port must be a number from 1 to 65535, not {args['port']!r}")
    host = str(args.get("host") or "127.0.0.1")
    try:
        addresses = " ".join(proc_net_addresses(host))
    except ValueError:
        addresses = "*"  # a name we cannot resolve here: any local address will do
    return DesiredWait("port", f"{host}:{port}", accepted, timeout, delay, addresses,
                       f":{port:04X}")


def _seconds(args: Mapping[str, Any], key: str, default: float) -> float:
    value = args.get(key, default)
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = -1.0
    if seconds < 0:
        raise ActionError(f"{key} must be a number of seconds, not {value!r}")
    return seconds


def wait_command(wait: DesiredWait) -> list[str]:
    return ["/bin/sh", "-c", WAIT_SCRIPT, "play-wait", wait.kind, wait.accepted,
            str(math.ceil(wait.timeout * 100)), f"{wait.delay:g}", wait.target,
            wait.addresses, wait.port]


def wait_for(args: Mapping[str, Any], context: ActionContext) -> Outcome:
    wait = desired_from(args)
    if context.check:
        # What it waits for usually comes from earlier steps that --check only pretended to do.
        return Outcome(skipped=True, msg="skipped in check mode")
    # The loop keeps its own deadline; the channel's only guards against a hung host.
    result = context.connection.run(wait_command(wait), timeout=wait.timeout + wait.delay + 30,
                                    become=context.become,
                                    become_user=context.become_user if context.become else None)
    seen = result.stdout.strip() or "nothing"
    label = f"{wait.kind} {wait.target}"
    if result.is_ok:
        return Outcome(msg=f"{label} is {seen}", facts={"state": seen})
    if result.exit_status == 1:
        return Outcome(failed=True, facts={"state": seen},
                       msg=f"timed out after {wait.timeout:g} s waiting for {label} to be "
                           f"{' or '.join(wait.accepted.split())}; last seen: {seen}")
    return Outcome(failed=True, msg=f"waiting for {label} failed: {result.stderr_tail()}")


ACTIONS: dict[str, Action] = {"wait_for": wait_for}
