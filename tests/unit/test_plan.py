"""The plan graph follows the spec's ordering rules (SPEC: Ordering)."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest

from engine.batches import place_plays, split_batches
from engine.errors import InputError
from engine.inventory import load_inventory
from engine.plan import Plan, plan_run
from engine.playbook import load_playbook

PLAYBOOKS = Path(__file__).parent.parent / "data" / "playbooks"


def _plan(name: str, limit: str | None = None, **options: object) -> Plan:
    inventory = load_inventory([PLAYBOOKS / "hosts.yml"])
    playbook = load_playbook(PLAYBOOKS / name)
    placements = place_plays(playbook, inventory, limit)
    return plan_run(playbook, inventory, placements, **options)  # type: ignore[arg-type]


def _waits(plan: Plan, before: tuple[str, str], after: tuple[str, str]) -> bool:
    """Does `after` (host, label) transitively wait for `before`?"""
    by_label = {(host, plan.steps[step_id].label): (host, step_id)
                for host, step_id in plan.nodes}
    return nx.has_path(plan.graph, by_label[before], by_label[after])


def test_nodes_are_host_step_pairs_for_every_host_of_each_play() -> None:
    plan = _plan("valid.yml")
    hosts = {host for host, _ in plan.nodes}
    assert hosts == {"db1", "web1", "web2", "web3", "web4"}
    # 2 steps on db1; 6 steps on each of 4 web hosts
    assert len(plan.nodes) == 2 + 6 * 4


def test_tasks_keep_their_order_on_each_host() -> None:
    plan = _plan("valid.yml")
    assert _waits(plan, ("web1", "task config dir"), ("web1", "task config"))
    assert _waits(plan, ("web1", "task config"), ("web1", "task check"))
    assert not _waits(plan, ("web1", "task config"), ("web2", "task config"))


def test_handlers_run_after_the_tasks_of_their_play() -> None:
    plan = _plan("valid.yml")
    assert _waits(plan, ("web3", "task check"), ("web3", "handler say done"))


def test_container_waits_for_depends_on_on_every_host_that_runs_it() -> None:
    plan = _plan("valid.yml")
    assert _waits(plan, ("db1", "container db"), ("web1", "container app"))


def test_service_waits_for_its_container_and_its_after() -> None:
    plan = _plan("valid.yml")
    assert _waits(plan, ("web2", "container app"), ("web2", "service app"))
    assert _waits(plan, ("web2", "task config"), ("web2", "service app"))


def test_notified_container_waits_for_the_notifying_task() -> None:
    plan = _plan("valid.yml")
    assert _waits(plan, ("web4", "task config"), ("web4", "container app"))


def test_containers_wait_for_their_plays_tasks_on_their_host() -> None:
    plan = _plan("valid.yml")
    # listed order, as in Ansible: the tasks first, even those that notify nothing
    assert _waits(plan, ("web1", "task check"), ("web1", "container app"))
    # ... on the same host only
    assert not _waits(plan, ("web2", "task check"), ("web1", "container app"))


def test_a_container_that_says_after_waits_only_for_what_it_names() -> None:
    plan = _plan("task_order.yml")
    assert _waits(plan, ("web1", "task write config"), ("web1", "container app"))
    # a task that waits for a container, and the tasks after it, come after it
    assert _waits(plan, ("web1", "container app"), ("web1", "task smoke test"))
    assert not _waits(plan, ("web1", "task report"), ("web1", "container app"))
    # after: [] opts out; after: [report] waits for that one (and what comes before it)
    assert not _waits(plan, ("web1", "task write config"), ("web1", "container sidecar"))
    assert _waits(plan, ("web1", "task report"), ("web1", "container late"))


def test_independent_steps_are_not_ordered() -> None:
    plan = _plan("valid.yml")
    # a service waits for its container and its own after:, not for other plays' steps
    assert not _waits(plan, ("web1", "task check"), ("db1", "service db"))


def test_serial_batches_wait_for_the_previous_batch() -> None:
    plan = _plan("valid.yml")
    web = plan.placements[1]
    assert web.batches == (("web1", "web2"), ("web3", "web4"))
    assert _waits(plan, ("web2", "service app"), ("web3", "task config dir"))
    assert not _waits(plan, ("web1", "task config dir"), ("web2", "task config dir"))


def test_play_waits_for_the_play_above_unless_it_says_after() -> None:
    plan = _plan("two_plays_parallel.yml")
    assert not _waits(plan, ("web1", "task a"), ("db1", "task b"))
    assert _waits(plan, ("db1", "task b"), ("web2", "task c"))
    assert not _waits(plan, ("web1", "task a"), ("web2", "task c"))


def test_previous_play_order_is_a_barrier_over_all_its_hosts() -> None:
    plan = _plan("valid.yml")
    assert _waits(plan, ("db1", "service db"), ("web4", "task config dir"))


def test_run_once_task_is_one_node_every_host_waits_for() -> None:
    plan = _plan("run_once.yml")
    once = [node for node in plan.nodes if plan.steps[node[1]].name == "migrate once"]
    assert once == [("web1", "0/task/migrate once")]
    for host in ("web1", "web2", "web3", "web4"):
        assert _waits(plan, (host, "task before"), ("web1", "task migrate once"))
        assert _waits(plan, ("web1", "task migrate once"), (host, "task after"))


def test_cycle_error_names_every_step() -> None:
    with pytest.raises(InputError) as caught:
        _plan("cycle.yml")
    message = str(caught.value)
    assert "cycle" in message
    for name in ("container ca", "container cb", "container cc"):
        assert name in message
    assert "cycle.yml:" in message


def test_limit_narrows_every_play() -> None:
    plan = _plan("valid.yml", limit="web1:db1")
    assert {host for host, _ in plan.nodes} == {"web1", "db1"}


def test_tags_select_steps_and_keep_their_order() -> None:
    plan = _plan("valid.yml", tags=["checks"])
    assert {plan.steps[step].label for _, step in plan.nodes} == {"task check"}


def test_skip_tags_remove_steps_but_keep_order_through_them() -> None:
    plan = _plan("valid.yml", skip_tags=["checks"])
    labels = {plan.steps[step].label for _, step in plan.nodes}
    assert "task check" not in labels
    assert _waits(plan, ("web1", "task config"), ("web1", "handler say done"))


def test_levels_put_independent_hosts_side_by_side() -> None:
    plan = _plan("two_plays_parallel.yml")
    first_level = plan.levels()[0]
    assert {host for host, _ in first_level} == {"web1", "db1"}


@pytest.mark.parametrize(("serial", "expected"), [
    ((), [5]),
    ((1,), [1, 1, 1, 1, 1]),
    ((2,), [2, 2, 1]),
    (("40%",), [2, 2, 1]),
    (("10%",), [1, 1, 1, 1, 1]),
    ((1, 3), [1, 3, 1]),
])
def test_serial_splits_hosts_like_ansible(serial: tuple[object, ...], expected: list[int]) -> None:
    batches = split_batches(["a", "b", "c", "d", "e"], serial)
    assert [len(batch) for batch in batches] == expected
    assert [host for batch in batches for host in batch] == ["a", "b", "c", "d", "e"]


def test_placement_constraints_leave_out_hosts_whose_vars_do_not_match() -> None:
    plan = _plan("replicas.yml")
    container_hosts = sorted(host for host, step_id in plan.nodes
                             if plan.steps[step_id].label == "container api")
    service_hosts = sorted(host for host, step_id in plan.nodes
                           if plan.steps[step_id].label == "service api")
    task_hosts = sorted(host for host, step_id in plan.nodes
                        if plan.steps[step_id].label == "task config")
    assert container_hosts == service_hosts == ["web1", "web3"]
    assert task_hosts == ["web1", "web2", "web3", "web4"]
    # the notify edge only exists where the container runs
    assert _waits(plan, ("web1", "task config"), ("web1", "container api"))


def test_pattern_hosts_are_kept_before_the_limit() -> None:
    plan = _plan("replicas.yml", limit="web1")
    assert plan.placements[0].hosts == ("web1",)
    assert plan.placements[0].pattern_hosts == ("web1", "web2", "web3", "web4")


def _edge_is_hard(plan: Plan, before: tuple[str, str], after: tuple[str, str]) -> bool:
    by_label = {(host, plan.steps[step_id].label): (host, step_id)
                for host, step_id in plan.nodes}
    return bool(plan.graph.edges[by_label[before], by_label[after]]["hard"])


def test_depends_on_a_replicated_container_only_orders() -> None:
    # a replica's host may be lost (its replica moves): the dependent still runs
    replicated = _plan("replicas.yml")
    assert not _edge_is_hard(replicated, ("web1", "container api"), ("db1", "container proxy"))
    fixed = _plan("valid.yml")
    assert _edge_is_hard(fixed, ("db1", "container db"), ("web1", "container app"))


def test_a_2000_host_rolling_plan_has_edges_linear_in_its_nodes(tmp_path: Path) -> None:
    # serial batches used to be joined all-to-all (batch k's sinks x batch k+1's sources):
    # ~1.8 million edges at 300 hosts. Now they meet in one barrier node per batch.
    (tmp_path / "hosts.ini").write_text(
        "[web]\n" + "".join(f"h{index} address=127.1.{index // 250}.{index % 250 + 1}\n"
                            for index in range(2000)))
    (tmp_path / "site.yml").write_text(
        "- name: web\n  hosts: web\n  serial: '10%'\n  tasks:\n"
        + "".join(f"    - {{name: t{index}, command: echo {index}}}\n" for index in range(5))
        + "  containers:\n    - {name: app, image: busybox}\n"
        "- name: after\n  hosts: web\n  tasks:\n    - {name: last, command: echo done}\n")
    inventory = load_inventory([tmp_path / "hosts.ini"])
    playbook = load_playbook(tmp_path / "site.yml")
    plan = plan_run(playbook, inventory)
    assert len(plan.nodes) == 2000 * 7
    assert plan.graph.number_of_edges() <= 3 * plan.graph.number_of_nodes()
    # and the order still holds: batch 2 waits for batch 1, play 2 for all of play 1
    first, second = plan.placements[0].batches[:2]
    assert nx.has_path(plan.graph, (first[-1], "0/container/app"), (second[0], "0/task/t0"))
    assert not nx.has_path(plan.graph, (second[0], "0/task/t0"), (first[-1], "0/task/t0"))
    assert nx.has_path(plan.graph, (second[-1], "0/container/app"), (first[0], "1/task/last"))
