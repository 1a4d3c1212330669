"""`play graph --format dot|json|svg|png`: what the pictures say, read back through
Graphviz's own parser (`dot -Tjson`), so a style a renderer would ignore fails here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from engine.batches import place_plays
from engine.errors import InputError
from engine.inventory import load_inventory
from engine.output.graph import graph_dot, graph_json
from engine.output.graphviz import render_image
from engine.plan import Plan, plan_run
from engine.playbook import load_playbook

ROOT = Path(__file__).parent.parent.parent
PLAYBOOKS = ROOT / "tests" / "data" / "playbooks"
HOSTS = str(PLAYBOOKS / "hosts.yml")


def _plan(name: str) -> Plan:
    inventory = load_inventory([PLAYBOOKS / "hosts.yml"])
    playbook = load_playbook(PLAYBOOKS / name)
    return plan_run(playbook, inventory, place_plays(playbook, inventory, None))


def _laid_out(plan: Plan) -> dict[str, Any]:
    done = subprocess.run(["dot", "-Tjson"], input=graph_dot(plan), capture_output=True,
                          text=True, check=True)
    return dict(json.loads(done.stdout))


def _nodes(layout: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in layout["objects"] if "nodes" not in item}


def _edge(layout: dict[str, Any], tail: str, head: str) -> dict[str, Any]:
    names = {item["_gvid"]: item["name"] for item in layout["objects"]}
    return next(edge for edge in layout["edges"]
                if (names[edge["tail"]], names[edge["head"]]) == (tail, head))


def test_dot_runs_top_to_bottom_with_a_shape_and_colour_per_step_kind() -> None:
    layout = _laid_out(_plan("valid.yml"))
    assert layout["rankdir"] == "TB"
    nodes = _nodes(layout)
    drawn = {kind: (nodes[name]["shape"], nodes[name]["fillcolor"]) for kind, name in [
        ("task", "web1|1/task/config"), ("handler", "web1|1/handler/say done"),
        ("container", "web1|1/container/app"), ("service", "web1|1/service/app")]}
    assert len({shape for shape, _ in drawn.values()}) == 4
    assert len({colour for _, colour in drawn.values()}) == 4
    barriers = [node for name, node in nodes.items() if name.startswith("|")]
    assert barriers and all(node["shape"] == "point" for node in barriers)


def test_dot_edges_are_styled_by_why_they_order() -> None:
    layout = _laid_out(_plan("valid.yml"))
    needs = _edge(layout, "db1|0/container/db", "db1|0/service/db")
    notify = _edge(layout, "web1|1/task/config", "web1|1/container/app")
    play_order = _edge(layout, "|1/after/0", "web1|1/task/config dir")
    batch = _edge(layout, "|1/batch/1", "web3|1/task/config dir")
    assert needs.get("style", "solid") == "solid"
    assert play_order["style"] == "dashed"
    assert notify["style"] == "dotted" and notify["color"] != play_order.get("color")
    assert batch["style"] == "bold"


def test_replica_candidates_are_one_cluster_marked_n_of_these() -> None:
    layout = _laid_out(_plan("replicas.yml"))
    names = {item["_gvid"]: item["name"] for item in layout["objects"]}
    cluster = next(item for item in layout["objects"] if item.get("label") == "2 of these")
    # placement constraints leave web1 and web3 (disk: ssd) as the candidates
    assert sorted(names[member] for member in cluster["nodes"]) == [
        "web1|0/container/api", "web3|0/container/api"]


def test_json_edges_carry_their_kind_and_replica_nodes_their_count() -> None:
    plan = graph_json(_plan("valid.yml"))
    kinds = {(edge["from"], edge["to"]): edge["kind"] for edge in plan["edges"]}
    assert kinds["db1|0/container/db", "db1|0/service/db"] == "needs"
    assert kinds["web1|1/task/config", "web1|1/container/app"] == "notify"
    assert kinds["|1/after/0", "web1|1/task/config dir"] == "order"
    assert kinds["|1/batch/1", "web3|1/task/config dir"] == "batch"
    replicated = graph_json(_plan("replicas.yml"))
    assert {node["id"] for node in replicated["nodes"] if node.get("replicas") == 2} == {
        "web1|0/container/api", "web3|0/container/api"}


def test_svg_and_png_are_drawn_by_graphviz() -> None:
    dot = graph_dot(_plan("valid.yml"))
    svg = render_image(dot, "svg").decode()
    assert svg.lstrip().startswith(("<?xml", "<svg")) and "<svg" in svg
    assert "web4" in svg and "2 of these" not in svg
    assert render_image(dot, "png").startswith(b"\x89PNG\r\n\x1a\n")


def test_an_image_without_graphviz_is_invalid_input_that_says_what_to_install(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(InputError, match=r"--format svg needs Graphviz's `dot`.*apt-get "
                                         r"install graphviz.*--format dot"):
        render_image("digraph play {}", "svg")


def _play(*arguments: str, path: str | None = None) -> subprocess.CompletedProcess[bytes]:
    environment = {**os.environ, "PATH": path} if path is not None else None
    return subprocess.run([sys.executable, "-m", "engine", "graph", *arguments],
                          capture_output=True, cwd=ROOT, timeout=60, check=False,
                          env=environment)


def test_play_graph_writes_a_png_to_stdout() -> None:
    result = _play(str(PLAYBOOKS / "valid.yml"), "-i", HOSTS, "--format", "png")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(b"\x89PNG\r\n\x1a\n")


def test_play_graph_svg_without_graphviz_exits_4(tmp_path: Path) -> None:
    result = _play(str(PLAYBOOKS / "valid.yml"), "-i", HOSTS, "--format", "svg",
                   path=str(tmp_path))
    assert result.returncode == 4, result.stderr
    assert b"apt-get install graphviz" in result.stderr and not result.stdout
