"""The lab behaves like separate machines: own root filesystem, hostname, processes and
packages, own login, own Docker engine, own ports, own /srv."""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from lab_client import E2E_DATA, LAB_HOSTS, Lab, LabMachine, play

from engine.lab import lab_status, lab_up

pytestmark = pytest.mark.lab

IMAGE = "play-lab/busybox:latest"
REGISTRY_IMAGE = "10.250.0.1:5000/busybox:latest"


def start_web_server(lab: Lab, host: LabMachine, name: str, port: int = 18080) -> None:
    """A host-network busybox httpd whose page is the host's name."""
    script = (
        'mkdir -p /tmp/www && echo "$0" > /tmp/www/index.html && exec httpd -f -p "$1" -h /tmp/www'
    )
    docker_run = ["docker", "run", "-d", "--network", "host", "--name", name, IMAGE]
    started = lab.run(host, *docker_run, "sh", "-c", script, host.name, str(port))
    assert started.returncode == 0, started.stderr


def fetch_page(lab: Lab, host: LabMachine, container: str, port: int = 18080) -> str:
    # Retry briefly: httpd may not have bound its port yet.
    fetch = shlex.join(["docker", "exec", container, "wget", "-qO-", f"http://127.0.0.1:{port}/"])
    page = lab.sh(host, f"for i in 1 2 3 4 5 6 7 8 9 10; do {fetch} && exit 0; sleep 0.2; done")
    assert page.returncode == 0, page.stderr
    return page.stdout.strip()


def running_names(lab: Lab, host: LabMachine) -> list[str]:
    listed = lab.run(host, "docker", "ps", "--format", "{{.Names}}")
    assert listed.returncode == 0, listed.stderr
    return listed.stdout.split()


@pytest.fixture
def containers(lab: Lab) -> Iterator[list[tuple[LabMachine, str]]]:
    """Containers a test starts, as (host, name); removed after the test whatever happened."""
    made: list[tuple[LabMachine, str]] = []
    yield made
    for host, name in made:
        lab.run(host, "docker", "rm", "--force", name)


def test_every_host_accepts_deploy_and_runs_its_own_docker(lab: Lab) -> None:
    assert [host.name for host in lab.hosts] == [f"lab{i}" for i in range(1, LAB_HOSTS + 1)]
    for host in lab.hosts:
        whoami = lab.sh(host, "id -un; hostname")
        assert whoami.returncode == 0, whoami.stderr
        assert whoami.stdout.split() == ["deploy", host.name]
        info = lab.run(host, "docker", "info", "--format", "{{.Name}} {{.Images}}")
        assert info.returncode == 0, info.stderr
        assert info.stdout.split()[0] == host.name
        assert lab.run(host, "docker", "ps").returncode == 0


def test_each_host_is_a_debian_machine_of_its_own(lab: Lab) -> None:
    for host in lab.hosts:
        seen = lab.sh(host, ". /etc/os-release && echo $ID $VERSION_ID; cat /etc/hostname")
        assert seen.stdout.split() == ["debian", "12", host.name], seen.stderr


def test_ps_shows_only_the_hosts_own_processes(lab: Lab) -> None:
    for host in lab.hosts:
        listed = lab.run(host, "ps", "-e", "-o", "pid=,comm=")
        assert listed.returncode == 0, listed.stderr
        processes = [line.split(None, 1) for line in listed.stdout.splitlines()]
        assert processes[0] == ["1", "tini"], listed.stdout
        names = {name for _, name in processes}
        assert "pytest" not in names and not any(name.startswith("python") for name in names)
        # its own init only: no other host's, none of this machine's
        assert [name for _, name in processes].count("tini") == 1, listed.stdout


@pytest.fixture
def isolation_changes(lab: Lab) -> Iterator[None]:
    yield
    lab.run(lab.host("lab1"), "sudo", "-n", "rm", "-f", "/etc/play-lab-probe")
    lab.sh(lab.host("lab2"), "sudo -n env DEBIAN_FRONTEND=noninteractive apt-get -y -q "
                             "remove hello >/dev/null")


def test_a_file_and_a_package_on_one_host_stay_on_that_host(
        lab: Lab, isolation_changes: None) -> None:
    hello_here = shutil.which("hello")
    done = play(str(E2E_DATA / "lab_isolation.yml"), "-i", str(lab.inventory))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr
    lab1, lab2, lab3 = lab.host("lab1"), lab.host("lab2"), lab.host("lab3")
    assert lab.run(lab1, "cat", "/etc/play-lab-probe").stdout == "written on lab1\n"
    for host in (lab2, lab3):
        assert lab.run(host, "test", "-e", "/etc/play-lab-probe").returncode == 1
    assert not Path("/etc/play-lab-probe").exists(), "the control machine got the file"
    assert lab.run(lab2, "hello").stdout.strip() == "Hello, world!"
    for host in (lab1, lab3):
        assert lab.sh(host, "command -v hello").returncode != 0, f"{host.name} has hello"
    assert shutil.which("hello") == hello_here, "the control machine got the package"


def test_host_has_no_route_off_the_lab(lab: Lab) -> None:
    routes = lab.run(lab.hosts[0], "ip", "route")
    assert routes.returncode == 0, routes.stderr
    assert "default" not in routes.stdout
    assert routes.stdout.split()[0] == "10.250.0.0/22"


def test_container_on_one_host_is_invisible_on_another(
    lab: Lab, containers: list[tuple[LabMachine, str]]
) -> None:
    lab1, lab2 = lab.host("lab1"), lab.host("lab2")
    containers.append((lab1, "e2e-visible-lab1"))
    start_web_server(lab, lab1, "e2e-visible-lab1")
    assert "e2e-visible-lab1" in running_names(lab, lab1)
    assert "e2e-visible-lab1" not in running_names(lab, lab2)


def test_same_port_on_two_hosts_does_not_collide(
    lab: Lab, containers: list[tuple[LabMachine, str]]
) -> None:
    for host in (lab.host("lab1"), lab.host("lab2")):
        containers.append((host, "e2e-port"))
        start_web_server(lab, host, "e2e-port")
    for host in (lab.host("lab1"), lab.host("lab2")):
        assert "e2e-port" in running_names(lab, host)
        assert fetch_page(lab, host, "e2e-port") == host.name


def test_srv_is_per_host_and_reaches_containers_by_bind_mount(lab: Lab) -> None:
    lab1, lab2 = lab.host("lab1"), lab.host("lab2")
    path = "/srv/e2e-srv-file.txt"
    try:
        assert lab.sh(lab1, f"echo written-on-lab1 > {path}").returncode == 0
        assert lab.run(lab2, "test", "-e", path).returncode == 1
        seen = lab.run(lab1, "docker", "run", "--rm", "-v", "/srv:/srv", IMAGE, "cat", path)
        assert seen.returncode == 0, seen.stderr
        assert seen.stdout.strip() == "written-on-lab1"
    finally:
        lab.run(lab1, "rm", "-f", path)


def test_var_lib_play_is_per_host_and_writable_by_deploy(lab: Lab) -> None:
    lab1, lab2 = lab.host("lab1"), lab.host("lab2")
    path = "/var/lib/play/e2e-state"
    try:
        assert lab.run(lab1, "touch", path).returncode == 0
        assert lab.run(lab2, "test", "-e", path).returncode == 1
    finally:
        lab.run(lab1, "rm", "-f", path)


def test_image_from_lab_registry_pulls_on_another_host(lab: Lab) -> None:
    lab2 = lab.host("lab2")
    try:
        pulled = lab.run(lab2, "docker", "pull", REGISTRY_IMAGE)
        assert pulled.returncode == 0, pulled.stderr
        ran = lab.run(lab2, "docker", "run", "--rm", REGISTRY_IMAGE, "echo", "pulled")
        assert ran.stdout.strip() == "pulled", ran.stderr
    finally:
        lab.run(lab2, "docker", "rmi", REGISTRY_IMAGE)


def test_second_up_keeps_every_host_ok(lab: Lab) -> None:
    known_hosts_before = lab.known_hosts.read_text()
    status = lab_up(LAB_HOSTS, lab.inventory)
    assert [(host.name, host.is_ok) for host in status.hosts] == [
        (host.name, True) for host in lab.hosts
    ]
    assert status.registry_alive
    # Same hosts, not new ones: their host keys did not change.
    assert lab.known_hosts.read_text() == known_hosts_before
    assert lab.run(lab.hosts[-1], "docker", "ps").returncode == 0
    assert lab_status() == status


def test_no_docker_hosts_take_logins_and_run_no_engine(lab: Lab) -> None:
    """Resizes the session lab to sshd-only hosts and back, so it runs last in this module."""
    try:
        status = lab_up(LAB_HOSTS, lab.inventory, has_docker=False)
        assert [(host.name, host.is_ok, host.docker_alive) for host in status.hosts] == [
            (host.name, True, False) for host in lab.hosts
        ]
        for host in lab.hosts:
            whoami = lab.sh(host, "id -un; hostname")
            assert whoami.stdout.split() == ["deploy", host.name], whoami.stderr
        assert lab.run(lab.hosts[0], "docker", "ps").returncode != 0
    finally:
        status = lab_up(LAB_HOSTS, lab.inventory)
    assert all(host.is_ok and host.docker_alive for host in status.hosts)
    assert lab.run(lab.hosts[-1], "docker", "image", "inspect", IMAGE).returncode == 0
