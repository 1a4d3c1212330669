"""The lab's network: one bridge in the root namespace and one namespace per host.

Each host gets a veth pair onto the bridge, its loopback and its own address,
and no default route, so its traffic can only reach the other lab addresses.
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.lab.layout import (
    BLACKHOLE,
    BRIDGE,
    BRIDGE_ADDRESS,
    BRIDGE_PREFIX,
    NETNS_PREFIX,
    VETH_PREFIX,
    HostPaths,
)
from engine.lab.proc import run, succeeds

NETNS_DIR = Path("/run/netns")


def mac_of(address: str) -> str:
    """A fixed, locally administered MAC for a lab address (02:50 and the address's four
    bytes), so that the lab can write its neighbour entries instead of asking ARP."""
    return "02:50:" + ":".join(f"{int(part):02x}" for part in address.split("."))


def link_exists(name: str) -> bool:
    return succeeds(["ip", "link", "show", "dev", name])


def ensure_bridge() -> None:
    if not link_exists(BRIDGE):
        run(["ip", "link", "add", BRIDGE, "type", "bridge"])
    # fixed, as the hosts' neighbour entries for it say (a bridge otherwise takes a port's)
    run(["ip", "link", "set", BRIDGE, "address", mac_of(BRIDGE_ADDRESS)])
    addresses = run(["ip", "-4", "-o", "addr", "show", "dev", BRIDGE])
    if f" {BRIDGE_ADDRESS}/{BRIDGE_PREFIX} " not in addresses:
        run(["ip", "addr", "add", f"{BRIDGE_ADDRESS}/{BRIDGE_PREFIX}", "dev", BRIDGE])
    run(["ip", "link", "set", BRIDGE, "up"])
    if not has_blackhole():
        run(["ip", "route", "add", "blackhole", BLACKHOLE])


def has_blackhole() -> bool:
    return bool(run(["ip", "route", "show", "type", "blackhole", BLACKHOLE]).strip())


def remove_bridge() -> None:
    if link_exists(BRIDGE):
        run(["ip", "link", "del", BRIDGE])
    if has_blackhole():
        run(["ip", "route", "del", "blackhole", BLACKHOLE])


def lab_namespaces() -> list[str]:
    """Names of the lab's namespaces that exist now, whatever the state file says."""
    if not NETNS_DIR.is_dir():
        return []
    return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(NETNS_PREFIX))


def lab_veths() -> list[str]:
    links = json.loads(run(["ip", "-j", "link", "show"]) or "[]")
    return sorted(
        link["ifname"] for link in links if str(link.get("ifname", "")).startswith(VETH_PREFIX)
    )


def create_host_network(host: HostPaths) -> None:
    """A fresh namespace for the host, wired to the bridge; whatever was there is removed first."""
    remove_host_network(host.netns, host.veth)
    run(["ip", "netns", "add", host.netns])
    # The peer is created directly inside the namespace, so it never appears in the root one.
    peer = ["peer", "name", "eth0", "address", mac_of(host.address), "netns", host.netns]
    run(["ip", "link", "add", host.veth, "type", "veth", *peer])
    run(["ip", "link", "set", host.veth, "master", BRIDGE, "up"])
    inside = ["ip", "-n", host.netns]
    run([*inside, "addr", "add", f"{host.address}/{BRIDGE_PREFIX}", "dev", "eth0"])
    run([*inside, "link", "set", "eth0", "up"])
    run([*inside, "link", "set", "lo", "up"])
    # Permanent neighbour entries between the control node and the host: the kernel's
    # ARP table is shared by every namespace and, past 512 entries (gc_thresh2), drops
    # them ("neighbor table overflow"): 1000 hosts reached only 511 of them. Permanent
    # entries do not count against it, and go with the bridge and the namespace.
    run(["ip", "neigh", "replace", host.address, "lladdr", mac_of(host.address), "dev", BRIDGE,
         "nud", "permanent"])
    run([*inside, "neigh", "replace", BRIDGE_ADDRESS, "lladdr", mac_of(BRIDGE_ADDRESS), "dev",
         "eth0", "nud", "permanent"])


def remove_host_network(netns: str, veth: str) -> None:
    # Deleting our end deletes the pair even if something still pins the namespace.
    if link_exists(veth):
        run(["ip", "link", "del", veth])
    if (NETNS_DIR / netns).exists():
        run(["ip", "netns", "del", netns])


def release_netns_dir() -> None:
    """`ip netns add` turned /run/netns into a mount point; undo that once it is empty."""
    if not NETNS_DIR.is_dir() or any(NETNS_DIR.iterdir()):
        return
    mounts = Path("/proc/self/mountinfo").read_text().splitlines()
    if any(line.split()[4] == str(NETNS_DIR) for line in mounts):
        run(["umount", str(NETNS_DIR)])
    NETNS_DIR.rmdir()
