"""The file backend: one JSON record per instance, `<root>/<service>/<instance>.json`, on
the registry host, reached through a `Connection` like any other host. Each operation is
one remote /bin/sh script whose names arrive as positional parameters, never as text.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from engine.connection import CommandResult, Connection
from engine.connection.base import PUT_SCRIPT
from engine.errors import UnreachableError
from engine.names import check_name
from engine.registry.lock import LockRecord, describe_holder, is_stale, wait_for_lock
from engine.registry.model import (
    HeldLock,
    Instance,
    LockOwner,
    RegistryError,
    Scan,
    checked,
)

# Records are private (0600, directories 0700, made under umask 077): only the registry
# host's login (or root, with `become`) reads them. The write is the connection's own
# atomic put (an exclusive random 0600 temp file, size check, rename), so no name a record
# passes through can be guessed or planted beforehand; before it, the service directory is
# made and a directory in the record's place is refused (rename would move into it).
RECORD_MODE = "0600"
REGISTER = (
    'umask 077; mkdir -p -- "$(dirname -- "$1")" || exit 1; '
    'if [ -d "$1" ]; then echo "$1 is a directory" >&2; exit 1; fi; ' + PUT_SCRIPT)

# Every record as `path NUL content NUL`. NUL bytes inside a record become \001 (it is
# then broken JSON, reported as such) so they cannot shift the framing; \001 alone marks
# a file or directory that could not be read.
LIST = r"""root=$1; service=$2
[ -e "$root" ] || exit 0
[ -d "$root" ] && [ -r "$root" ] && [ -x "$root" ] || { echo "cannot read $root" >&2; exit 3; }
if [ -n "$service" ]; then
  [ -e "$root/$service" ] || exit 0
  set -- "$root/$service"
else
  set -- "$root"/*
fi
for dir in "$@"; do
  [ -d "$dir" ] || continue
  if ! [ -r "$dir" ] || ! [ -x "$dir" ]; then printf '%s\0\001\0' "$dir"; continue; fi
  for file in "$dir"/*.json; do
    [ -f "$file" ] || continue
    printf '%s\0' "$file"
    tr '\000' '\001' < "$file" || printf '\001'
    printf '\0'
  done
done
"""

# Locks: `<root>/.locks/<host>` is a directory holding owner.json. Each is built under
# .staging and renamed into place (`mv -t`, a rename(2) per host), which fails while a
# non-empty lock directory is there: no one ever sees a lock without its owner. All hosts
# or none: the ones taken are given back when one is busy. The script runs the same few
# processes for any number of hosts (one `mv` per host cost 0.45 s at 50 hosts).
# `set -- "$@" x` inside a loop over "$@" builds a list; `shift $count` drops the old one.
ACQUIRE = r"""locks=$1/.locks; staging=$1/.staging; shift
umask 077
mkdir -p "$locks" "$staging" || exit 3
record=$(cat)
new=$(mktemp -d "$staging/lock.XXXXXX") || exit 3
count=$#
for host in "$@"; do set -- "$@" "$new/$host"; done
shift $count
mkdir -- "$@" || { rm -rf "$new"; exit 3; }
for dir in "$@"; do
  printf '%s\n' "$record" > "$dir/owner.json" || { rm -rf "$new"; exit 3; }
done
mv -t "$locks" -- "$@" 2>/dev/null
busy=
count=$#
for dir in "$@"; do
  if [ -d "$dir" ]; then busy=${busy:-${dir##*/}}; else set -- "$@" "$locks/${dir##*/}"; fi
done
shift $count
if [ -z "$busy" ]; then rmdir "$new"; exit 0; fi
[ $# -eq 0 ] || rm -rf -- "$@"
rm -rf "$new"
printf '%s\0' "$busy"
cat "$locks/$busy/owner.json" 2>/dev/null
exit 1
"""

# Moves the locks away only while they still hold our token, so a lock someone else
# holds now is never removed. owner.json is one line, read by the shell itself.
RELEASE = r"""locks=$1/.locks; staging=$1/.staging; token=$2; shift 2
count=$#
for host in "$@"; do
  line=
  { IFS= read -r line < "$locks/$host/owner.json"; } 2>/dev/null
  case $line in *"$token"*) set -- "$@" "$locks/$host" ;; esac
done
shift $count
[ $# -gt 0 ] || exit 0
trash=$(mktemp -d "$staging/released.XXXXXX") || exit 1
mv -t "$trash" -- "$@"; status=$?
rm -rf "$trash" || status=1
exit $status
"""

# Two runs may find the same stale lock. Under flock(1) on the registry host (the kernel
# drops it when its holder dies, at any point), the one that gets there first checks that
# the lock still holds the owner it judged gone and renames it to a unique name, with
# every other lock of its hosts that holds that same owner (one gone run left them all);
# the other then finds a different owner, or none, and waits like any busy lock. A crash
# leaves the stale lock (judged again by the next run) or no lock: never one nobody may
# take over (a `takeover` mkdir, as before, outlived a run that died holding it).
TAKE_OVER = r"""locks=$1/.locks; staging=$1/.staging; judged=$2; shift
command -v flock >/dev/null || { echo "flock(1) is missing (Debian: util-linux)" >&2; exit 3; }
umask 077
exec 9>>"$staging/takeover.flock" && flock -w 10 9 || exit 3
trash=$(mktemp -d "$staging/stale.XXXXXX") || exit 3
cat > "$trash/holder" && mkdir "$trash/locks" || { rm -rf -- "$trash"; exit 3; }
cmp -s "$trash/holder" "$locks/$judged/owner.json" || { rm -rf -- "$trash"; exit 1; }
for host in "$@"; do
  if cmp -s "$trash/holder" "$locks/$host/owner.json"; then
    mv -T -- "$locks/$host" "$trash/locks/$host" || { rm -rf -- "$trash"; exit 3; }
  fi
done
rm -rf -- "$trash"
exit 0
"""


class FileRegistry:
    def __init__(self, connection: Connection, root: str, *, become: bool = False,
                 owns_connection: bool = False) -> None:
        self.connection = connection
        self.root = root
        self.become = become
        self.owns_connection = owns_connection  # connections from the run's pool stay open
        self.where = f"file registry {root} on {connection.host}"

    def _run(self, what: str, script: str, *args: str, stdin: bytes | None = None,
             ok: tuple[int, ...] = (0,)) -> CommandResult:
        try:
            result = self.connection.run(["/bin/sh", "-c", script, "play-registry", *args],
                                         stdin=stdin, become=self.become)
        except UnreachableError as error:
            raise RegistryError(f"{self.where}: cannot {what}: {error}") from None
        if result.exit_status not in ok:
            raise RegistryError(f"{self.where}: cannot {what}: "
                                f"{result.stderr_tail() or f'exit status {result.exit_status}'}")
        return result

    def register(self, instance: Instance) -> None:
        content = instance.to_json().encode()
        path = f"{self.root}/{instance.service}/{instance.instance}.json"
        self._run(f"write {instance.service}/{instance.instance}.json", REGISTER, path,
                  RECORD_MODE, str(len(content)), stdin=content)

    def deregister(self, service: str, instance: str) -> None:
        path = f"{self.root}/{check_name('service', service)}/{check_name('instance', instance)}"
        self._run(f"remove {service}/{instance}.json", 'rm -f -- "$1.json"', path)

    def scan(self, service: str | None = None) -> Scan:
        if service is not None:
            check_name("service", service)
        result = self._run("list the records", LIST, self.root, service or "")
        fields = result.stdout.split("\0")
        instances: list[Instance] = []
        problems: list[str] = []
        for path, content in zip(fields[0:-1:2], fields[1::2], strict=False):
            problem = None
            if content.startswith("\x01"):
                problem = f"{path}: cannot read it"
            else:
                try:
                    record = Instance.from_json(content)
                except ValueError as error:
                    problem = f"{path}: {error}"
                else:
                    service_dir, _, name = path[len(self.root) + 1:].partition("/")
                    if (record.service, record.instance + ".json") != (service_dir, name):
                        problem = (f"{path}: holds {record.service}/{record.instance}, "
                                   "which does not match its path")
                    else:
                        instances.append(record)
            if problem:
                problems.append(problem)
        instances.sort(key=lambda record: (record.service, record.instance))
        return Scan(instances, problems)

    def instances(self, service: str | None = None) -> list[Instance]:
        return checked(self.scan(service), self.where)

    def lock(self, hosts: Sequence[str], owner: LockOwner, timeout: float,
             on_wait: Callable[[str], None], stop: threading.Event | None = None
             ) -> HeldLock:
        names = sorted({check_name("host", host) for host in hosts})
        record = LockRecord.new(owner)
        return wait_for_lock(lambda: self._attempt(names, record, on_wait), timeout, on_wait,
                             stop)

    def _attempt(self, hosts: list[str], record: LockRecord,
                 on_wait: Callable[[str], None]) -> HeldLock | str:
        while True:
            result = self._run("take the deploy lock", ACQUIRE, self.root, *hosts,
                               stdin=record.to_json().encode(), ok=(0, 1))
            if result.exit_status == 0:
                return FileLock(self, hosts, record.token)
            host, _, holder = result.stdout.partition("\0")
            try:
                stale = is_stale(LockRecord.from_json(holder).owner)
            except ValueError:
                stale = False
            if not stale:
                return (f"deploy lock on {host} held by {describe_holder(holder)}; "
                        f"lock directory {self.root}/.locks/{host} on {self.connection.host}")
            # every lock of ours that the same gone process holds, in one round trip (one
            # per host took 17 minutes after a 1000-host run was killed)
            taken = self._run(f"take over the stale deploy lock on {host}", TAKE_OVER,
                              self.root, host, *hosts, stdin=holder.encode(), ok=(0, 1))
            if not taken.is_ok:  # another run took it over first: wait like any busy lock
                return f"deploy lock on {host} was just taken over by another run"
            on_wait(f"taking over stale deploy lock on {host} held by "
                    f"{describe_holder(holder)}: that process is gone")

    def close(self) -> None:
        if self.owns_connection:
            self.connection.close()


class FileLock:
    def __init__(self, registry: FileRegistry, hosts: list[str], token: str) -> None:
        self.registry = registry
        self.hosts = hosts
        self.token = token
        self.is_released = False

    def lost(self) -> str | None:
        return None  # only a person removing the directory takes a file lock away

    def release(self) -> None:
        if not self.is_released:
            self.registry._run("release the deploy lock", RELEASE, self.registry.root,
                               self.token, *self.hosts)
            self.is_released = True
