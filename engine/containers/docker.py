"""The few docker CLI calls the reconciler makes on a host, each one round trip,
every value passed as an argument (never pasted into a shell line).
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from engine.connection import CommandResult, Connection, command_line, command_line_size_problem
from engine.connection.base import MAX_COMMAND_LINE
from engine.containers.facts import HOST_LOCK
from engine.containers.spec import (
    DesiredContainer,
    env_file_problem,
    env_file_text,
)
from engine.containers.swap import Command

_PULL = ('docker pull -q -- "$1" >/dev/null && '
         'docker image inspect --format "{{.Id}}" -- "$1"')
# Polls on the host, not over SSH: one round trip however long the wait.
_WAIT_HEALTHY = r'''
name=$1; deadline=$(( $(date +%s) + $2 ))
status='{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}'
log='{{if .State.Health}}{{range .State.Health.Log}}{{.Output}}{{end}}{{end}}'
while :; do
  state=$(docker inspect --type container --format "$status" -- "$name" 2>&1) || {
    echo "gone: $state"; exit 2; }
  case $state in
    "running healthy"|"running none") echo "$state"; exit 0;;
    # restarting: it exited and its restart policy brings it back, which would loop
    # until the patience ran out (minutes with the demo's 30 retries)
    *unhealthy|created*|exited*|dead*|restarting*) break;;
  esac
  [ "$(date +%s)" -ge "$deadline" ] && break
  sleep 0.25
done
echo "$state"
docker inspect --type container --format "$log" -- "$name" | tail -n 5
exit 1
'''
# $1 the container's name, $2 run or create, $3 1 when an env file follows on stdin; the
# rest: the docker run arguments. The env file is 0600 (umask 077, mktemp), exists only
# while the docker CLI reads it (the CLI sends the values to the engine, which keeps them
# in the container's config), and a file a killed run left behind goes on the next create.
_CREATE = HOST_LOCK + r'''
name=$1; verb=$2; has_env=$3; shift 3
[ "$verb" = run ] && set -- --detach "$@"
if [ "$has_env" != 1 ]; then exec docker "$verb" "$@"; fi
umask 077
env_dir=$play_dir/env/$name
mkdir -p -- "$env_dir" || exit 1
rm -f -- "$env_dir"/*
env_file=$(mktemp -- "$env_dir/XXXXXXXXXX") || exit 1
trap 'rm -f -- "$env_file"' EXIT
trap 'exit 129' HUP; trap 'exit 141' PIPE; trap 'exit 143' TERM
cat > "$env_file" || exit 1
docker "$verb" --env-file "$env_file" "$@"
'''
# Newest first; the images past the first $2 go, unless a container still uses them
# (`docker rmi` without -f refuses those, which is what we want).
_PRUNE = ('docker images --no-trunc --format "{{.ID}}" -- "$1" | awk \'!seen[$0]++\' | '
          'tail -n +$(( $2 + 1 )) | while read -r image; do '
          'docker rmi -- "$image" >/dev/null 2>&1 && echo "$image"; done; true')


@dataclass(frozen=True)
class HealthWait:
    is_healthy: bool
    state: str          # "running healthy", "running unhealthy", "exited none", ...
    output: str         # the last health check output when it failed


class Docker:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def _sh(self, script: str, *args: str, timeout: float | None = None,
            stdin: bytes | None = None) -> CommandResult:
        return self.connection.run(["/bin/sh", "-c", script, "play", *args], timeout=timeout,
                                   stdin=stdin)

    def pull(self, reference: str) -> CommandResult:
        """Pull and print the image id."""
        return self._sh(_PULL, reference)

    def create(self, desired: DesiredContainer) -> CommandResult:
        """Create the desired container under its name, started unless it is wanted
        stopped; its env travels on stdin into a 0600 env file, never in an argument."""
        verb = "create" if desired.state == "stopped" else "run"
        env = env_file_text(desired) if desired.env else None
        return self._sh(_CREATE, desired.name, verb, "1" if env else "",
                        *create_options(desired), stdin=env)

    def apply(self, commands: Sequence[Command], desired: DesiredContainer) -> CommandResult:
        """Commands that need no decision between them (remove, stop, rename, start,
        restart, signal) in one round trip under the host's lock; the first failure stops it."""
        lines = [_docker_line(command, desired) for command in commands]
        return self._sh(HOST_LOCK + " && ".join(lines))

    def wait_healthy(self, name: str, patience: float) -> HealthWait:
        result = self._sh(_WAIT_HEALTHY, name, str(int(patience) + 1), timeout=patience + 30)
        lines = result.stdout.strip().splitlines()
        state = lines[0] if lines else result.stderr.strip()
        return HealthWait(result.exit_status == 0, state, "\n".join(lines[1:]).strip())

    def prune_images(self, repository: str, keep: int) -> list[str]:
        """Remove all but the `keep` newest images of a repository; returns the removed."""
        result = self._sh(_PRUNE, repository, str(keep))
        return result.stdout.split()

    def signal(self, name: str, signal: str) -> CommandResult:
        """Send a running container a signal (its reload_signal): no lock, one kill."""
        return self.command("kill", "--signal", signal, "--", name)

    def command(self, *argv: str) -> CommandResult:
        return self.connection.run(["docker", *argv])


def _docker_line(command: Command, desired: DesiredContainer) -> str:
    stop_timeout = [] if desired.stop_timeout is None else ["-t", str(desired.stop_timeout)]
    if command.op == "remove":
        # a container already gone is removed: a killed run's last command may have done it
        remove = shlex.join(["docker", "rm", "--force", "--", command.name])
        find = shlex.join(["docker", "inspect", "--type", "container", "--", command.name])
        return f"{{ {remove} >/dev/null || ! {find} >/dev/null 2>&1; }}"
    argv = {"stop": ["docker", "stop", *stop_timeout, "--", command.name],
            "rename": ["docker", "rename", "--", command.name, command.to],
            "start": ["docker", "start", "--", command.name],
            "restart": ["docker", "restart", *stop_timeout, "--", command.name],
            "signal": ["docker", "kill", "--signal", command.to, "--", command.name]}[command.op]
    return shlex.join(argv) + " >/dev/null"


def run_line_problem(desired: DesiredContainer) -> str | None:
    """Why the host could not even be asked to create this container (a command line over
    the kernel's limit, an env the env file cannot carry), or None. Checked when a plan
    creates a container, before any of its commands runs: a replaced container would
    otherwise be stopped for a replacement that cannot start. A container to remove runs
    no such line."""
    if desired.state == "absent":
        return None
    problem = env_file_problem(desired)
    if problem is not None:
        return problem
    argv = ["/bin/sh", "-c", _CREATE, "play", desired.name, "run", "1",
            *create_options(desired)]
    return command_line_size_problem(command_line(argv, become=True, become_password=True))


def could_pass_command_line_limit(values: Iterable[str]) -> bool:
    """Whether a `docker run` line holding these values could pass the kernel's limit:
    quoting makes a value at most five times longer (each `'` becomes `'"'"'`), plus a
    flag before it; twice, since the `play.spec` label may hold a value again; 4 kB for
    the rest of the line (about 1.2 kB measured for the smallest container)."""
    bound = 4096 + sum(2 * (5 * len(value.encode("utf-8", "surrogateescape")) + 32)
                       for value in values)
    return bound > MAX_COMMAND_LINE


def create_options(desired: DesiredContainer) -> list[str]:
    """What follows `docker create` (or `docker run`) for the desired container: options,
    `--`, the image and its command. Its env is not among them: it goes in an env file
    (`env_file_text`), passed with --env-file."""
    argv = ["--name", desired.name]
    for key, value in sorted(desired.all_labels().items()):
        argv += ["--label", f"{key}={value}"]
    for port in desired.ports:
        argv += ["--publish", port]
    for volume in desired.volumes:
        argv += ["--volume", volume]
    options: dict[str, str | None] = {
        "--network": desired.network, "--restart": desired.restart, "--user": desired.user,
        "--workdir": desired.workdir, "--cpus": desired.cpus, "--memory": desired.memory}
    for option, setting in options.items():
        if setting is not None:
            argv += [option, setting]
    if desired.stop_timeout is not None:
        argv += ["--stop-timeout", str(desired.stop_timeout)]
    if desired.health is not None:
        health = desired.health
        argv += ["--health-cmd", health.cmd, "--health-interval", _milliseconds(health.interval),
                 "--health-timeout", _milliseconds(health.timeout),
                 "--health-retries", str(health.retries),
                 "--health-start-period", _milliseconds(health.start_period)]
    if desired.entrypoint is not None:
        # --entrypoint takes one word; the rest of it goes before the command
        argv += ["--entrypoint", desired.entrypoint[0] if desired.entrypoint else ""]
    argv += ["--", desired.image]
    if desired.entrypoint:
        argv += list(desired.entrypoint[1:])
    if desired.command is not None:
        argv += list(desired.command)
    return argv


def _milliseconds(seconds: float) -> str:
    return f"{int(seconds * 1000)}ms"
