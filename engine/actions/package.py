"""`package`: packages present, absent or at their latest version, with apt, dnf or apk.

One command finds the package manager, optionally refreshes its cache and lists which of
the named packages are installed (and, for `latest`, upgradable); one command applies.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.actions.base import Action, ActionContext, ActionError, Change, Outcome
from engine.actions.catalog import CATALOG
from engine.actions.files import chained, run_checked

STATES = CATALOG["package"].choices["state"]

# $1 "1" to refresh the cache first, $2 "1" to list upgrades, then the package names.
# Output: the manager's name, "name<TAB>installed" lines, then (for latest) a "--" line
# followed by the manager's own upgrade listing.
READ_SCRIPT = r"""update=$1 latest=$2; shift 2
if command -v apt-get >/dev/null 2>&1 && command -v dpkg-query >/dev/null 2>&1; then
  echo apt
  if [ "$update" = 1 ]; then apt-get update -q >/dev/null || exit; fi
  dpkg-query -W -f '${Package}\t${db:Status-Abbrev}\n' -- "$@" 2>/dev/null
  if [ "$latest" = 1 ]; then echo --; LC_ALL=C apt-cache policy -- "$@"; fi
elif command -v dnf >/dev/null 2>&1; then
  echo dnf
  if [ "$update" = 1 ]; then dnf -q makecache >/dev/null || exit; fi
  rpm -q --qf '%{NAME}\tii\n' -- "$@" 2>/dev/null | grep "$(printf '\t')"
  if [ "$latest" = 1 ]; then echo --; dnf -q list --upgrades -- "$@" 2>/dev/null; fi
elif command -v apk >/dev/null 2>&1; then
  echo apk
  if [ "$update" = 1 ]; then apk update -q >/dev/null || exit; fi
  for name; do apk info -e -- "$name" >/dev/null 2>&1 && printf '%s\tii\n' "$name"; done
  if [ "$latest" = 1 ]; then echo --; apk list -u 2>/dev/null; fi
else
  echo none
fi
exit 0"""


@dataclass(frozen=True)
class CurrentPackages:
    manager: str                    # apt | dnf | apk | none
    installed: frozenset[str]
    upgradable: frozenset[str] = frozenset()


def package_key(name: str) -> str:
    """The bare name a package manager lists: no `=version` pin, no `:arch`."""
    return re.split(r"[=:]", name, maxsplit=1)[0]


@dataclass(frozen=True)
class Pending:
    """The named packages each verb applies to; all empty means nothing to do."""

    install: tuple[str, ...] = ()
    upgrade: tuple[str, ...] = ()
    remove: tuple[str, ...] = ()


def compare_packages(names: list[str], state: str, facts: CurrentPackages) -> Pending:
    """Pure: which packages to install, upgrade or remove."""
    present = tuple(name for name in names if package_key(name) in facts.installed)
    if state == "absent":
        return Pending(remove=present)
    missing = tuple(name for name in names if name not in present)
    stale = tuple(name for name in present if package_key(name) in facts.upgradable)
    return Pending(install=missing, upgrade=stale if state == "latest" else ())


def as_change(todo: Pending) -> Change:
    return Change(tuple(f"{verb} {', '.join(names)}" for verb, names in (
        ("install", todo.install), ("upgrade", todo.upgrade), ("remove", todo.remove))
        if names))


def parse_read(output: str, names: list[str]) -> CurrentPackages:
    head, _, upgrades = output.partition("\n--\n")
    lines = head.splitlines()
    manager = lines[0] if lines else "none"
    installed = set()
    for line in lines[1:]:
        name, _, status = line.partition("\t")
        # dpkg's abbreviation: second letter "i" is installed ("rc" is only config left)
        if len(status) > 1 and status[1] == "i":
            installed.add(name)
    keys = {package_key(name) for name in names}
    upgradable = parse_upgrades(manager, upgrades) & keys & installed
    return CurrentPackages(manager, frozenset(installed), frozenset(upgradable))


def parse_upgrades(manager: str, listing: str) -> set[str]:
    if manager == "apt":
        found, name, installed = set(), "", ""
        for line in listing.splitlines():
            if line and not line[0].isspace() and line.endswith(":"):
                name = line[:-1]
            elif line.strip().startswith("Installed:"):
                installed = line.split(":", 1)[1].strip()
            elif line.strip().startswith("Candidate:"):
                candidate = line.split(":", 1)[1].strip()
                if installed not in ("", "(none)") and candidate not in (installed, "(none)"):
                    found.add(name)
        return found
    if manager == "dnf":  # "name.arch  version  repo"
        return {line.split()[0].rsplit(".", 1)[0] for line in listing.splitlines()
                if line.strip() and not line.startswith(("Available", "Last"))}
    if manager == "apk":  # "name-1.2-r0 x86_64 {origin} (license) [upgradable from: ...]"
        return {line.split()[0].rsplit("-", 2)[0] for line in listing.splitlines()
                if "upgradable from" in line}
    return set()


def apply_commands(manager: str, todo: Pending) -> list[list[str]]:
    """One command per verb with work, in the manager's own words."""
    verbs = {
        "apt": (["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-y", "-q", "install"],
                ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-y", "-q", "install",
                 "--only-upgrade"],
                ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "-y", "-q", "remove"]),
        "dnf": (["dnf", "-y", "install"], ["dnf", "-y", "upgrade"], ["dnf", "-y", "remove"]),
        "apk": (["apk", "add"], ["apk", "add", "-u"], ["apk", "del"]),
    }[manager]
    return [[*verb, "--", *names] for verb, names in
            zip(verbs, (todo.install, todo.upgrade, todo.remove), strict=True) if names]


def names_from(args: Mapping[str, Any]) -> list[str]:
    raw = args["name"]
    names = [str(name).strip() for name in (raw if isinstance(raw, list) else
                                            str(raw).split(","))]
    names = [name for name in names if name]
    if not names:
        raise ActionError("name must name at least one package")
    if bad := [name for name in names if name.startswith("-")]:
        raise ActionError(f"a package name cannot start with '-': {', '.join(bad)}")
    return names


def package(args: Mapping[str, Any], context: ActionContext) -> Outcome:
    names, state = names_from(args), str(args.get("state") or "present")
    if state not in STATES:
        raise ActionError(f"state must be one of {', '.join(STATES)}, not {state!r}")
    refresh = "1" if args.get("update_cache") and not context.check else ""
    keys = [package_key(name) for name in names]
    output = run_checked(context, ["/bin/sh", "-c", READ_SCRIPT, "play-package", refresh,
                                   "1" if state == "latest" else "", *keys],
                         "reading the installed packages")
    facts = parse_read(output, names)
    if facts.manager == "none":
        raise ActionError("no supported package manager (apt-get, dnf, apk) on this host")
    todo = compare_packages(names, state, facts)
    change = as_change(todo)
    facts_out = {"install": list(todo.install), "upgrade": list(todo.upgrade),
                 "remove": list(todo.remove), "manager": facts.manager}
    if not change.is_needed:
        return Outcome(msg=f"{', '.join(names)}: already {state}", facts=facts_out)
    summary = "; ".join(change.what)
    if context.check:
        return Outcome(changed=True, msg=f"would {summary}", facts=facts_out)
    run_checked(context, chained(apply_commands(facts.manager, todo)), summary)
    return Outcome(changed=True, msg=summary, facts=facts_out)


ACTIONS: dict[str, Action] = {"package": package}
