"""Which tasks read the service registry (engine/playbook/consumers.py, the plan's
`readers`): found from the playbook and its template files before the run."""

from __future__ import annotations

from pathlib import Path

from engine.playbook import load_playbook
from engine.playbook.consumers import registry_readers
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
