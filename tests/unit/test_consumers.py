"""Which tasks read the service registry (engine/playbook/consumers.py, the plan's
`readers`): found from the playbook and its template files before the run."""

from __future__ import annotations

from pathlib import Path

from engine.consumers import Consumers
from engine.inventory import load_inventory
from engine.plan import plan_run
from engine.playbook import Step, load_playbook
from engine.playbook.consumers import registry_readers
from engine.results import StepResult
from engine.templating import ANY_SERVICE, services_read


def test_services_read_names_each_literal_service_a_template_looks_up() -> None:
    text = "{% for i in services('api') %}{{ i.address }}{% endfor %}{{ services(\"db\") }}"
    assert services_read(text) == {"api", "db"}


def test_a_computed_service_name_reads_any_service() -> None:
    assert services_read("{{ services(name) }}") == {ANY_SERVICE}
    assert services_read("{{ services('a' ~ suffix) }}") == {ANY_SERVICE}


def test_text_without_a_services_call_reads_nothing() -> None:
    assert services_read("plain text") == frozenset()
    assert services_read("{{ groups['api'] }} {{ my.services('x') }}") == frozenset()
    assert services_read("{{ unclosed") == frozenset()   # the checks report it


def test_the_plan_knows_the_tasks_that_read_each_service(data_dir: Path) -> None:
    readers = registry_readers(load_playbook(data_dir / "playbooks" / "registry_readers.yml"))
    assert readers == {"api": ("0/task/lb config",), "store": ("0/task/lb config",),
                       "cache": ("0/task/upstreams",), ANY_SERVICE: ("0/task/any service",)}


def test_the_demo_gateway_config_reads_the_api(data_dir: Path) -> None:
    demo = Path(__file__).parents[2] / "playbooks" / "deploy.yml"
    assert registry_readers(load_playbook(demo)) == {"api": ("2/task/gateway config",)}


# -- following: engine/consumers.py with a fake task runner and a fake Docker host --


class FakeResult:
    def __init__(self, stdout: str = "", is_ok: bool = True) -> None:
        self.stdout, self.is_ok = stdout, is_ok

    def stderr_tail(self) -> str:
        return "no such container"


class FakeHost:
    """The docker commands a consumer sends to one host: `ps` answers the running ones."""

    def __init__(self, running: list[str]) -> None:
        self.running = running
        self.sent: list[list[str]] = []

    def run(self, argv: list[str], **options: object) -> FakeResult:
        self.sent.append(argv)
        if argv[:2] == ["docker", "ps"]:
            return FakeResult("\n".join(self.running))
        return FakeResult()


class FakeRunner:
    def __init__(self, status: str) -> None:
        self.status = status
        self.refreshed: list[tuple[str, str]] = []

    def scope(self, host: str, play: object) -> dict[str, object]:
        return {}

    def refresh(self, host: str, step: Step) -> StepResult:
        self.refreshed.append((host, step.id))
        return StepResult(host, step.id, self.status)  # type: ignore[arg-type]


def consumers(data_dir: Path, status: str, running: list[str], check: bool = False,
              ) -> tuple[Consumers, FakeRunner, dict[str, FakeHost]]:
    playbook = load_playbook(data_dir / "playbooks" / "registry_readers.yml")
    inventory = load_inventory([data_dir / "playbooks" / "hosts.yml"])
    plan = plan_run(playbook, inventory)
    hosts = {host: FakeHost(running) for host, _ in plan.nodes}
    runner = FakeRunner(status)
    return Consumers(plan, runner, hosts.__getitem__, check), runner, hosts  # type: ignore[arg-type]


def test_a_changed_consumer_is_rendered_again_and_its_container_signalled(
        data_dir: Path) -> None:
    following, runner, hosts = consumers(data_dir, "changed", ["lb", "other"])
    notes = following.follow("api")
    assert sorted(runner.refreshed) == [(host, "0/task/lb config") for host in sorted(hosts)]
    for host, fake in hosts.items():
        assert ["docker", "kill", "--signal", "SIGUSR2", "--", "lb"] in fake.sent
        assert f"sent SIGUSR2 to container lb on {host}" in notes


def test_an_unchanged_consumer_is_not_reloaded(data_dir: Path) -> None:
    following, runner, hosts = consumers(data_dir, "ok", ["lb"])
    assert following.follow("api") == []
    assert runner.refreshed and not any(argv[1] == "kill" for fake in hosts.values()
                                        for argv in fake.sent)


def test_a_consumer_whose_container_does_not_run_is_left_to_its_own_task(
        data_dir: Path) -> None:
    following, runner, _ = consumers(data_dir, "changed", ["other"])
    assert following.follow("api") == []
    assert runner.refreshed == []


def test_nothing_follows_a_service_nobody_reads_or_a_check_run(data_dir: Path) -> None:
    following, runner, _ = consumers(data_dir, "changed", ["lb"])
    assert following.follow("nobody-reads-me") == []
    checking, check_runner, _ = consumers(data_dir, "changed", ["lb"], check=True)
    assert checking.follow("api") == []
    assert runner.refreshed == [] and check_runner.refreshed == []
