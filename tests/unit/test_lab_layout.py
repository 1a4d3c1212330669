"""Lab host names and addresses: every host up to MAX_HOSTS has its own address on the
lab's subnet (no root, no lab needed)."""

from __future__ import annotations

import ipaddress

from engine.lab.layout import BRIDGE_ADDRESS, BRIDGE_PREFIX, MAX_HOSTS, host_address, host_index


def test_the_first_hosts_keep_their_documented_addresses() -> None:
    assert [host_address(i) for i in (1, 2, 3)] == ["10.250.0.11", "10.250.0.12", "10.250.0.13"]


def test_every_host_up_to_the_maximum_has_its_own_address_on_the_subnet() -> None:
    subnet = ipaddress.ip_network(f"{BRIDGE_ADDRESS}/{BRIDGE_PREFIX}", strict=False)
    addresses = [ipaddress.ip_address(host_address(i)) for i in range(1, MAX_HOSTS + 1)]
    assert len(set(addresses)) == MAX_HOSTS
    assert all(address in subnet for address in addresses)
    assert ipaddress.ip_address(BRIDGE_ADDRESS) not in addresses
    assert subnet.broadcast_address not in addresses
    assert MAX_HOSTS >= 1000


def test_host_names_read_back_to_their_index() -> None:
    assert host_index("lab1000") == 1000
