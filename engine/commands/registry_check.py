"""`play registry check`: compare every instance record with its container and report
the stale ones; `--fix` removes them. `judge` is the pure comparison; around it, the
I/O reads each host's containers (one remote command per host, hosts in parallel) and
removes records under the deploy lock of their hosts.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, TextIO

from engine.connection import open_connection, settings_for
from engine.containers.facts import HostFacts, facts_command, is_container_name, parse_facts
from engine.containers.spec import LABEL_MANAGED
from engine.errors import EXIT_DRIFT, EXIT_LOCK_BUSY, EXIT_OK, EXIT_UNREACHABLE, UnreachableError
from engine.output.table import table_lines
from engine.registry.cache import is_foreign
from engine.registry.from_inventory import inventory_registry, registry_owner
from engine.registry.model import Instance, LockBusy, LockOwner, Registry, RegistryError

if TYPE_CHECKING:
    from engine.connection import ConnectionSettings
    from engine.inventory import Inventory

HOST_WORKERS = 16       # hosts read at once: SSH handshakes dominate, each in its own thread
FACTS_TIMEOUT = 60.0    # a hung Docker engine makes its records unverified, not a hung check


@dataclass(frozen=True)
class Unverifiable:
    """The host's containers could not be read: its records are neither ok nor stale."""

    reason: str


@dataclass(frozen=True)
class NotInInventory:
    """The record names a host the inventory does not have."""


HostView = HostFacts | Unverifiable | NotInInventory


@dataclass(frozen=True)
class Verdict:
    state: str          # "ok" | "stale" | "unverified" | "foreign" (another owner's)
    why: str            # empty when ok


@dataclass(frozen=True)
class Finding:
    record: Instance
    verdict: Verdict
    is_removed: bool = False


def judge(record: Instance, host: HostView) -> Verdict:
    """Is this record still true of its host? Only an unreadable host stays undecided."""
    if isinstance(host, NotInInventory):
        return Verdict("stale", f"host {record.host} is not in the inventory")
    if isinstance(host, Unverifiable):
        return Verdict("unverified", host.reason)
    name = record.container
    # looked up by name: `docker inspect NAME` may also answer with an image, or with a
    # container whose id starts with NAME; those come back under other names
    container = host.containers.get(name)
    if container is None:
        return Verdict("stale", f"no container {name} on {record.host}")
    if container.labels.get(LABEL_MANAGED) != "true":
        return Verdict("stale", f"container {name} is not a container play manages")
    if not container.is_running:
        return Verdict("stale", f"container {name} is {container.status}")
    if container.health == "unhealthy":
        output = container.health_output.splitlines()[-1:] or [""]
        return Verdict("stale", f"container {name} is unhealthy"
                       + (f": {output[0][:80]}" if output[0] else ""))
    if container.health == "starting":
        # play registers a container only once healthy: "starting" under a record means
        # it restarted since, and does not serve yet
        return Verdict("stale", f"container {name} is not healthy yet (starting)")
    if container.image_id != record.image_id:
        return Verdict("stale", f"container {name} runs image {_short(container.image_id)}, "
                                f"the record says {_short(record.image_id)}")
    return Verdict("ok", "")


def _short(image_id: str) -> str:
    return image_id.partition(":")[2][:12] if ":" in image_id else image_id[:12]


def exit_status(findings: Iterable[Finding]) -> int:
    """6 when a stale record is left; else 3 when a host could not be read; else 0."""
    findings = list(findings)
    if any(f.verdict.state == "stale" and not f.is_removed for f in findings):
        return EXIT_DRIFT
    if any(f.verdict.state == "unverified" for f in findings):
        return EXIT_UNREACHABLE
    return EXIT_OK


# -- I/O: read the hosts, remove the stale records --


def read_hosts(inventory: Inventory, records: Sequence[Instance]) -> dict[str, HostView]:
    """Each record host's containers, read in parallel with one connection per host.
    Connection settings are computed first: a bad connection var is exit 4 before any
    host is contacted."""

    names: dict[str, set[str]] = {}
    for record in records:
        names.setdefault(record.host, set()).add(record.container)
    views: dict[str, HostView] = {host: NotInInventory() for host in names
                                  if host not in inventory.hosts}
    settings = {host: settings_for(inventory.hosts[host]) for host in names
                if host in inventory.hosts}
    if settings:
        with ThreadPoolExecutor(max_workers=min(HOST_WORKERS, len(settings))) as workers:
            read = workers.map(lambda host: _read_host(settings[host], names[host]), settings)
            views.update(zip(settings, read, strict=True))
    return views


def _read_host(settings: ConnectionSettings, container_names: Iterable[str]) -> HostView:
    # a name Docker would refuse cannot be a container: it is simply not found
    names = [name for name in container_names if is_container_name(name)]
    try:
        connection = open_connection(settings)
        try:
            result = connection.run(facts_command((), names), timeout=FACTS_TIMEOUT)
        finally:
            connection.close()
    except UnreachableError as error:  # refused, timed out, or lost mid-command
        return Unverifiable(f"host unreachable ({error})")
    if not result.is_ok:
        said = result.stderr_tail(1) or f"exit status {result.exit_status}"
        return Unverifiable(f"cannot read its containers ({said})")
    try:
        return parse_facts(result.stdout, ())
    except (ValueError, KeyError) as error:
        return Unverifiable(f"cannot read its containers (unexpected docker inspect "
                            f"output: {error})")


def remove_stale(registry: Registry, findings: Sequence[Finding]) -> list[Finding]:
    """Deregister the stale records; a removal that fails leaves that record stale."""
    done = []
    for finding in findings:
        if finding.verdict.state == "stale":
            try:
                registry.deregister(finding.record.service, finding.record.instance)
            except RegistryError as error:
                why = f"{finding.verdict.why}; cannot remove it: {error}"
                finding = replace(finding, verdict=replace(finding.verdict, why=why))
            else:
                finding = replace(finding, is_removed=True)
        done.append(finding)
    return done


def judge_all(inventory: Inventory, records: Sequence[Instance]) -> list[Finding]:
    views = read_hosts(inventory, records)
    return [Finding(record, judge(record, views[record.host])) for record in records]


@dataclass(frozen=True)
class CheckOptions:
    service: str | None
    fix: bool
    as_json: bool
    lock_timeout: float
    option_names: tuple[str, ...] = ()  # recorded in the deploy lock, without values


def check_registry(inventory: Inventory, options: CheckOptions, out: TextIO,
                   warn: Callable[[str], None]) -> int:
    """Judges and fixes only the inventory's own records (and owner-less ones, written
    before owners): another owner's are listed as foreign, never judged or removed."""

    owner = registry_owner(inventory)

    def judged(records: Sequence[Instance], fix: bool) -> list[Finding]:
        own = [record for record in records if not is_foreign(record, owner)]
        findings = judge_all(inventory, own)
        if fix:
            findings = remove_stale(registry, findings)
        foreign = [Finding(record, Verdict("foreign", f"owned by {record.owner!r}, not "
                                                      f"{owner!r}"))
                   for record in records if is_foreign(record, owner)]
        return sorted([*findings, *foreign],
                      key=lambda f: (f.record.service, f.record.instance))

    try:
        with inventory_registry(inventory) as registry:
            scan = registry.scan(options.service)
            if not options.fix:
                findings = judged(scan.instances, fix=False)
            else:
                # a deploy may register a record between our read and our removal: the
                # record hosts stay locked from a fresh read until the removals are done
                hosts = sorted({record.host for record in scan.instances
                                if not is_foreign(record, owner)})
                held = registry.lock(hosts, LockOwner.current(
                    "play registry check", "", options.option_names),
                    options.lock_timeout, warn) if hosts else None
                try:
                    scan = registry.scan(options.service) if held else scan
                    findings = judged(scan.instances, fix=True)
                finally:
                    if held:
                        held.release()
    except LockBusy as error:
        out.write(f"{error}\n")
        return EXIT_LOCK_BUSY
    except RegistryError as error:
        out.write(f"registry: {error}\n")
        return EXIT_UNREACHABLE
    out.write(format_json(findings, scan.problems) if options.as_json
              else format_table(findings, scan.problems))
    return exit_status(findings)


# -- output --


def _counts(findings: Sequence[Finding]) -> Mapping[str, int]:
    return {"stale": sum(f.verdict.state == "stale" for f in findings),
            "removed": sum(f.is_removed for f in findings),
            "unverified": sum(f.verdict.state == "unverified" for f in findings),
            "foreign": sum(f.verdict.state == "foreign" for f in findings)}


def format_table(findings: Sequence[Finding], problems: Sequence[str]) -> str:
    rows = [(f.record.service, f.record.instance, f.record.host,
             "removed" if f.is_removed else f.verdict.state, f.verdict.why) for f in findings]
    lines = table_lines([("SERVICE", 16), ("INSTANCE", 28), ("HOST", 12), ("STATE", 10),
                         ("WHY", 0)], rows)
    lines += [f"warning: {problem}" for problem in problems]
    counts = _counts(findings)
    lines.append(f"{len(findings)} records, {counts['stale']} stale ({counts['removed']} "
                 f"removed), {counts['unverified']} unverified"
                 + (f", {counts['foreign']} foreign" if counts["foreign"] else ""))
    return "\n".join(lines) + "\n"


def format_json(findings: Sequence[Finding], problems: Sequence[str]) -> str:
    records = [{"service": f.record.service, "instance": f.record.instance,
                "host": f.record.host, "state": f.verdict.state, "why": f.verdict.why,
                "removed": f.is_removed} for f in findings]
    document = {"records": records, **_counts(findings), "problems": list(problems)}
    return json.dumps(document, indent=2) + "\n"
