"""`setup` (what `gather_facts: true` runs first on every host of a play): a documented set
of Ansible's facts, read with ONE remote command, a POSIX sh script over /etc/os-release,
/proc and `ip` (none of Ansible's Python runs on the host), parsed here into variables.

The facts: ansible_hostname, ansible_fqdn, ansible_distribution,
ansible_distribution_version, ansible_distribution_release, ansible_distribution_major_version,
ansible_os_family, ansible_system, ansible_architecture, ansible_kernel,
ansible_processor_vcpus, ansible_memtotal_mb, ansible_default_ipv4 (address, interface,
gateway); each also under ansible_facts without its `ansible_` prefix, as in Ansible.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.actions.base import Action, ActionContext, Outcome

# One `key=value` line per fact; os-release is sourced in a subshell (it is shell syntax).
FACTS_SCRIPT = r"""
echo "hostname=$(uname -n)"
echo "fqdn=$(hostname -f 2>/dev/null || uname -n)"
echo "system=$(uname -s)"
echo "kernel=$(uname -r)"
echo "architecture=$(uname -m)"
(. /etc/os-release 2>/dev/null && echo "os_id=$ID" && echo "os_name=$NAME" &&
 echo "os_version=$VERSION_ID" && echo "os_codename=$VERSION_CODENAME" &&
 echo "os_like=$ID_LIKE")
echo "vcpus=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)"
while read -r key value _; do
  [ "$key" = MemTotal: ] && echo "memtotal_kb=$value"
done < /proc/meminfo
route=$(ip -4 route show default 2>/dev/null | head -n 1)
set -- $route
while [ $# -gt 1 ]; do
  case $1 in via) echo "gateway=$2" ;; dev) echo "interface=$2"; dev=$2 ;; esac
  shift
done
if [ -n "$dev" ]; then
  set -- $(ip -4 -o addr show dev "$dev" 2>/dev/null | head -n 1)
  while [ $# -gt 1 ]; do [ "$1" = inet ] && echo "address=${2%/*}"; shift; done
fi
exit 0
"""

FACT_NAMES = ("hostname", "nodename", "fqdn", "system", "kernel", "architecture",
              "distribution", "distribution_version", "distribution_major_version",
              "distribution_release", "os_family", "processor_vcpus", "memtotal_mb",
              "default_ipv4")
# Ansible's names for /etc/os-release IDs, and the family each belongs to
DISTRIBUTIONS = {"debian": "Debian", "ubuntu": "Ubuntu", "centos": "CentOS",
                 "rhel": "RedHat", "fedora": "Fedora", "rocky": "Rocky",
                 "almalinux": "AlmaLinux", "alpine": "Alpine", "arch": "Archlinux",
                 "opensuse-leap": "openSUSE Leap", "sles": "SLES", "amzn": "Amazon"}
FAMILIES = {"debian": "Debian", "ubuntu": "Debian", "centos": "RedHat", "rhel": "RedHat",
            "fedora": "RedHat", "rocky": "RedHat", "almalinux": "RedHat", "amzn": "RedHat",
            "alpine": "Alpine", "arch": "Archlinux", "opensuse-leap": "Suse", "sles": "Suse"}


def parse_facts(output: str) -> dict[str, Any]:
    """The script's lines as Ansible's fact names (pure: tested from text)."""
    raw: dict[str, str] = {}
    for line in output.splitlines():
        key, separator, value = line.partition("=")
        if separator and key not in raw:
            raw[key] = value.strip()
    os_id = raw.get("os_id", "").lower()
    like = raw.get("os_like", "").split()
    family = FAMILIES.get(os_id) or next((FAMILIES[item] for item in like if item in FAMILIES),
                                         raw.get("system", ""))
    version = raw.get("os_version", "")
    memory_kb = raw.get("memtotal_kb", "0")
    default_ipv4 = {key: raw[key] for key in ("address", "interface", "gateway") if raw.get(key)}
    hostname = raw.get("hostname", "")
    return {
        "hostname": hostname.split(".")[0],
        "nodename": hostname,
        "fqdn": raw.get("fqdn", hostname),
        "system": raw.get("system", ""),
        "kernel": raw.get("kernel", ""),
        "architecture": raw.get("architecture", ""),
        "distribution": DISTRIBUTIONS.get(os_id, raw.get("os_name", "") or os_id),
        "distribution_version": version,
        "distribution_major_version": version.split(".")[0] if version else "",
        "distribution_release": raw.get("os_codename", ""),
        "os_family": family,
        "processor_vcpus": int(raw["vcpus"]) if raw.get("vcpus", "").isascii()
        and raw.get("vcpus", "").isdigit() else 0,
        "memtotal_mb": int(memory_kb) // 1024 if memory_kb.isascii() and memory_kb.isdigit()
        else 0,
        "default_ipv4": default_ipv4,
    }


def as_variables(facts: Mapping[str, Any]) -> dict[str, Any]:
    """`ansible_<fact>` for each fact, and `ansible_facts` holding them all (Ansible's)."""
    return {**{f"ansible_{name}": value for name, value in facts.items()},
            "ansible_facts": dict(facts)}


def setup(args: Mapping[str, Any], context: ActionContext) -> Outcome:
    # read-only, so it runs under --check too (later tasks' conditions read the facts)
    result = context.connection.run(["sh", "-c", FACTS_SCRIPT], timeout=context.timeout)
    if not result.is_ok:
        return Outcome(failed=True, msg=f"gathering facts failed: {result.stderr_tail()}")
    facts = parse_facts(result.stdout)
    return Outcome(msg=f"{facts['distribution']} {facts['distribution_version']}".strip(),
                   ansible_facts=as_variables(facts))


ACTIONS: dict[str, Action] = {"setup": setup}
