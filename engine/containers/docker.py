"""The few docker CLI calls the reconciler makes on a host, each one round trip,
every value passed as an argument (never pasted into a shell line).
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.connection import CommandResult, Connection, command_line, command_line_size_problem
from engine.containers.spec import DesiredContainer, run_arguments

_PULL = ('docker pull -q "$1" >/dev/null && '
         'docker image inspect --format "{{.Id}}" "$1"')
# Polls on the host, not over SSH: one round trip however long the wait.
_WAIT_HEALTHY = r'''
name=$1; deadline=$(( $(date +%s) + $2 ))
status='{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}}'
log='{{if .State.Health}}{{range .State.Health.Log}}{{.Output}}{{end}}{{end}}'
while :; do
  state=$(docker inspect --format "$status" "$name" 2>&1) || { echo "gone: $state"; exit 2; }
  case $state in
    "running healthy"|"running none") echo "$state"; exit 0;;
    *unhealthy|exited*|dead*) break;;
  esac
  [ "$(date +%s)" -ge "$deadline" ] && break
  sleep 0.25
done
echo "$state"
docker inspect --format "$log" "$name" | tail -n 5
exit 1
'''
_SET_ASIDE = ('docker rm -f "$2" >/dev/null 2>&1; docker stop ${3:+-t "$3"} "$1" >/dev/null && '
              'docker rename "$1" "$2"')
_PUT_BACK = ('docker rm -f "$1" >/dev/null 2>&1; docker rename "$2" "$1" && '
             'docker start "$1" >/dev/null')


# Newest first; the images past the first $2 go, unless a container still uses them
# (`docker rmi` without -f refuses those, which is what we want).
_PRUNE = ('docker images --no-trunc --format "{{.ID}}" "$1" | awk \'!seen[$0]++\' | '
          'tail -n +$(( $2 + 1 )) | while read -r image; do '
          'docker rmi "$image" >/dev/null 2>&1 && echo "$image"; done; true')


@dataclass(frozen=True)
class HealthWait:
    is_healthy: bool
    state: str          # "running healthy", "running unhealthy", "exited none", ...
    output: str         # the last health check output when it failed


class Docker:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def _sh(self, script: str, *args: str, timeout: float | None = None) -> CommandResult:
        return self.connection.run(["/bin/sh", "-c", script, "play", *args], timeout=timeout)

    def pull(self, reference: str) -> CommandResult:
        """Pull and print the image id."""
        return self._sh(_PULL, reference)

    def create_and_start(self, desired: DesiredContainer, name: str) -> CommandResult:
        return self.connection.run(run_argv(desired, name))

    def wait_healthy(self, name: str, patience: float) -> HealthWait:
        result = self._sh(_WAIT_HEALTHY, name, str(int(patience) + 1), timeout=patience + 30)
        lines = result.stdout.strip().splitlines()
        state = lines[0] if lines else result.stderr.strip()
        return HealthWait(result.exit_status == 0, state, "\n".join(lines[1:]).strip())

    def set_aside(self, name: str, aside: str, stop_timeout: int | None) -> CommandResult:
        """Stop the running container and rename it out of the way (kept for rollback)."""
        return self._sh(_SET_ASIDE, name, aside, "" if stop_timeout is None else str(
            stop_timeout))

    def put_back(self, name: str, aside: str) -> CommandResult:
        """Remove the failed replacement and restart the container set aside."""
        return self._sh(_PUT_BACK, name, aside)

    def prune_images(self, repository: str, keep: int) -> list[str]:
        """Remove all but the `keep` newest images of a repository; returns the removed."""
        result = self._sh(_PRUNE, repository, str(keep))
        return result.stdout.split()

    def command(self, *argv: str) -> CommandResult:
        return self.connection.run(["docker", *argv])


def run_argv(desired: DesiredContainer, name: str) -> list[str]:
    # `docker run -d` rather than create + start: one docker CLI process, not two
    return ["docker", "run", "--detach", *run_arguments(desired, name)[2:]]


def run_line_problem(desired: DesiredContainer) -> str | None:
    """Why the host could not even be asked to run this container (a command line over
    the kernel's limit), or None. Checked before anything changes on the host: a replaced
    container would otherwise be stopped for a replacement that cannot start. A container
    to remove runs no such line."""
    if desired.state == "absent":
        return None
    line = command_line(run_argv(desired, desired.name), become=True, become_password=True)
    return command_line_size_problem(line)
