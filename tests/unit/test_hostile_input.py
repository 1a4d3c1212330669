"""Hostile values (tests/hostile_corpus.py) in every field a user's value reaches, written
literally in the YAML and passed through `-e @vars.json` into `{{ hostile }}`: play either
passes each on verbatim or refuses it with exit 4 and `file:line: what is wrong` before
anything runs; nothing a value carries executes.

No lab: the preparation stage runs in-process; the CLI runs against hosts at 127.0.0.1
port 9, where nothing listens, so an accepted value ends as unreachable (3), never sent.
What an accepted value would become on a host is read from the argument lists play builds
(the same functions the run uses), and checked to survive the remote shell's parsing.
"""

from __future__ import annotations

import contextlib
import gc
import glob
import io
import json
import os
import re
import shlex
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hostile_corpus as corpus
import pytest

from engine.actions.command import command_argv
from engine.cli import main
from engine.connection.base import command_line
from engine.containers.desired import rendered_fields
from engine.containers.docker import create_options
from engine.containers.spec import desired_container, env_file_text
from engine.errors import EXIT_INVALID, EXIT_UNREACHABLE, InputError
from engine.local_files import resolve_local_source
from engine.names import instance_id
from engine.playbook import ContainerSpec, ServiceSpec, TaskSpec
from engine.registry import Instance
from engine.tasks import StepOptions, StepRunner
from engine.templating import render
from engine.variables import Scope

DOCKER_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")
LOCATED = re.compile(r"(?P<file>.+?):(?P<line>[0-9]+): (?P<what>.+)", re.DOTALL)
HOST = "target"


# --- the corpus ------------------------------------------------------------------------


def test_the_corpus_has_over_100_values_from_every_category() -> None:
    values = corpus.corpus_values()
    assert len(values) >= 100
    assert len(set(values)) == len(values)
    assert {item.category for item in corpus.CORPUS} >= {
        "shell", "quotes", "control", "unicode", "long", "blank", "option", "path", "glob",
        "template", "format", "yaml", "separator"}
    assert sum("\0" in value for value in values) >= 3
    assert any(len(value) >= 4096 for value in values)
    for value in values:
        if "touch" in value or value.startswith("> /"):
            assert corpus.CANARY in value, f"{value!r} would create no recognisable canary"


def test_the_corpus_is_importable_from_the_e2e_folder_too() -> None:
    # tests/conftest.py puts tests/ on sys.path (pytest's default rootdir-conftest import
    # mode), so `import hostile_corpus` works from tests/unit and tests/e2e alike
    assert Path(corpus.__file__).parent == Path(__file__).parent.parent


# --- every (field, route, value) -------------------------------------------------------


def _canaries() -> dict[str, float]:
    found = {}
    for pattern in corpus.CANARY_GLOBS:
        for path in glob.glob(pattern):
            with contextlib.suppress(OSError):
                found[path] = os.lstat(path).st_mtime
    return found


@dataclass(frozen=True)
class Tried:
    verdict: corpus.Verdict
    arrival: str | None = None    # accepted: None if it arrives verbatim, else what differs


@pytest.fixture(scope="module")
def tried(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Tried]]:
    """Every (field, route, value) through play's preparation stage; for an accepted one,
    what the host would receive. No canary may appear meanwhile."""
    before = _canaries()
    folder = tmp_path_factory.mktemp("hostile")
    results = []
    for index, (field, route, value) in enumerate(corpus.pairs()):
        case = corpus.write_case(field, value, route, folder / str(index))
        try:
            prepared = corpus.prepare_case(case)
        except InputError as error:
            results.append(Tried(corpus.Verdict(field.name, value, route, case, str(error))))
            continue
        verdict = corpus.Verdict(field.name, value, route, case, None)
        results.append(Tried(verdict, _arrival_problem(verdict, prepared)))
    yield results
    assert _canaries() == before, "a hostile value created a canary file"


def _of(tried: list[Tried], field: str) -> list[Tried]:
    return [item for item in tried if item.verdict.field == field]


# --- what an accepted value becomes on the host ------------------------------------------


def _arrival_problem(verdict: corpus.Verdict, prepared: Any) -> str | None:
    """None when the value reaches the host verbatim (a template-looking value: as Jinja2
    renders it); else what differs."""
    expected = None if corpus.Hostile("", verdict.value).is_template else verdict.value
    if verdict.field == "host_name":
        if verdict.value not in prepared.inventory.hosts:
            return f"no host named {verdict.value!r}: {sorted(prepared.inventory.hosts)}"
        instance_id("service", verdict.value)  # a name the deploy lock and records can use
        return None
    play = prepared.plan.playbook.plays[0]
    runner = StepRunner(prepared.plan, prepared.inventory, prepared.extra_vars, None,  # type: ignore[arg-type]
                        StepOptions())
    scope = runner.scope(HOST, play)
    problem = None
    for step in play.steps:
        if isinstance(step.body, TaskSpec):
            args = resolve_local_source(step.body.action, render(step.body.args, scope),
                                        play.source.file)
            problem = problem or _task_arrival(verdict.field, args, expected)
        elif isinstance(step.body, ContainerSpec):
            desired = desired_container(str(render(step.name, scope)),
                                        rendered_fields(step.body, scope), {}, play.name)
            problem = problem or _container_arrival(verdict.field, desired, expected)
        elif isinstance(step.body, ServiceSpec):
            problem = problem or _service_arrival(verdict.field, step, step.body, scope,
                                                  expected)
    return problem


def _survives_the_remote_shell(argv: list[str]) -> str | None:
    """The line the host's shell gets (engine.connection.base.command_line) splits back
    into exactly these arguments: nothing in a value is read as shell syntax."""
    line = command_line(argv, become=False)
    return None if shlex.split(line) == argv else f"the shell would split {line!r} otherwise"


def _task_arrival(field: str, args: Any, expected: str | None) -> str | None:
    if field in ("task_arg", "play_var"):
        argv = command_argv(args)
        if expected is not None and argv != ["printf", "%s", expected]:
            return f"argv is {argv!r}"
        return _survives_the_remote_shell(argv)
    dest, source = str(args["dest"]), str(args["src"])
    if field == "template_dest" and expected is not None \
            and dest != f"/srv/play-hostile/{expected}":
        return f"dest is {dest!r}"
    if field == "template_src" and not Path(source).is_file():
        return f"src {source!r} is not the file it named"
    if field == "template_src" and expected is not None and "/" not in expected \
            and Path(source).name != expected:
        return f"src is {source!r}"
    return _survives_the_remote_shell(["/bin/sh", "-c", "true", "play-copy", dest])


def _container_arrival(field: str, desired: Any, expected: str | None) -> str | None:
    argv = ["docker", "create", *create_options(desired)]
    wanted: dict[str, Callable[[], bool]] = {
        "container_name": lambda: desired.name == expected and argv[3] == expected,
        "env_value": lambda: ("HOSTILE", expected) in desired.env
        and _env_file_lines(desired)[-1] == f"HOSTILE={expected}",
        "env_key": lambda: (expected, "x") in desired.env
        and f"{expected}=x" in _env_file_lines(desired),
        "label_value": lambda: ("hostile", expected) in desired.labels,
        "label_key": lambda: (expected, "x") in desired.labels,
        "volume_host": lambda: desired.volumes == (f"{expected}:/hostile:ro",),
        "command_arg": lambda: desired.command == ("sh", "-c", "sleep 1", "--", expected),
    }
    if expected is not None and field in wanted and not wanted[field]():
        return f"docker would get {argv!r}"
    return _survives_the_remote_shell(argv)


def _env_file_lines(desired: Any) -> list[str]:
    """The env file as the docker CLI reads it: lines split at \\n, never in argv."""
    assert "--env" not in ["docker", "create", *create_options(desired)]
    return env_file_text(desired).decode().split("\n")[:-1]


def _service_arrival(field: str, step: Any, body: ServiceSpec, scope: Scope,
                     expected: str | None) -> str | None:
    name = str(render(step.name, scope))
    instance = Instance(
        service=name, instance=instance_id(name, HOST), host=HOST, address="127.0.0.1",
        port=int(render(body.port, scope)), tags=tuple(str(t) for t in render(list(body.tags),
                                                                              scope)),
        meta={str(k): str(v) for k, v in render(dict(body.meta), scope).items()},
        container="hostile-box", image_id="sha256:0", registered_at="2024-01-01T00:00:00Z")
    if Instance.from_json(instance.to_json()) != instance:
        return f"the record changes through JSON: {instance.to_json()}"
    got = {"service_name": instance.service, "service_tag": instance.tags[0] if instance.tags
           else None, "service_meta": instance.meta.get("m")}[field]
    if expected is not None and got != expected:
        return f"the record holds {got!r}"
    return None


# --- the contract, field by field --------------------------------------------------------


def _is_registry_name(value: str) -> bool:
    return 0 < len(value) <= 200 and "/" not in value and not value.startswith(".") \
        and not any(ord(char) < 32 or ord(char) == 127 for char in value)


def _is_file_path(value: str) -> bool:
    encoded = value.encode("utf-8")
    return "\0" not in value and len(encoded) < 4096 and all(
        len(part) <= 255 for part in encoded.split(b"/"))


# For values written as themselves (not template-looking): must play take it?
# True: must accept; False: must refuse; None: either (its own rules decide).
def _must_accept(field: str, value: str) -> bool | None:
    if not corpus.is_utf8(value):
        return False  # a lone surrogate is no text: nothing can carry it
    has_nul = "\0" in value
    rules: dict[str, Callable[[], bool | None]] = {
        # free text: anything without NUL passes
        "task_arg": lambda: not has_nul, "play_var": lambda: not has_nul,
        # the env travels in an env file of NAME=VALUE lines (engine/containers/spec.py)
        "env_value": lambda: not has_nul and "\n" not in value and "\r" not in value,
        "label_value": lambda: not has_nul,
        "command_arg": lambda: not has_nul,
        # JSON in the record: even NUL
        "service_tag": lambda: True, "service_meta": lambda: True,
        # names and paths with the rules of Docker, POSIX and the registry
        "container_name": lambda: DOCKER_NAME.fullmatch(value) is not None,
        "env_key": lambda: value != "" and "=" not in value and not has_nul
        and not value.startswith(("#", "\ufeff")) and not any(char.isspace() for char in value),
        "label_key": lambda: value != "" and "=" not in value and not has_nul and not any(
            char.isspace() for char in value),
        "volume_host": lambda: ":" not in value and not has_nul and (
            (value.startswith("/") and _is_file_path(value))
            or (DOCKER_NAME.fullmatch(value) is not None and len(value) <= 255)),
        # (a blank name written as such is refused for every kind of step)
        "service_name": lambda: None if not value.strip() else _is_registry_name(value),
        "host_name": lambda: None if not _is_registry_name(value) else (
            False if any(unicodedata.category(c) == "Cc" for c in value) else None),
        "template_dest": lambda: _is_file_path(f"/srv/play-hostile/{value}"),
        "template_src": lambda: None if not has_nul else False,
    }
    return rules[field]()


@pytest.mark.parametrize("field", corpus.FIELD_NAMES)
def test_each_value_is_taken_or_refused_as_docker_posix_and_the_registry_say(
        tried: list[Tried], field: str) -> None:
    wrong = []
    for item in _of(tried, field):
        verdict = item.verdict
        if corpus.Hostile("", verdict.value).is_template:
            continue  # rendered first: its own rules apply to what it renders to
        must = _must_accept(field, verdict.value)
        if must is not None and must != verdict.is_accepted:
            wrong.append(f"{verdict.route} {verdict.value!r}: "
                         f"{'accepted' if verdict.is_accepted else verdict.message}")
    assert not wrong, f"{len(wrong)} wrong in {field}:\n" + "\n".join(wrong[:20])


@pytest.mark.parametrize("field", corpus.FIELD_NAMES)
def test_accepted_values_reach_the_host_verbatim(tried: list[Tried], field: str) -> None:
    wrong = [f"{item.verdict.route} {item.verdict.value!r}: {item.arrival}"
             for item in _of(tried, field) if item.verdict.is_accepted and item.arrival]
    assert not wrong, f"{len(wrong)} changed in {field}:\n" + "\n".join(wrong[:20])


@pytest.mark.parametrize("field", corpus.FIELD_NAMES)
def test_refused_values_say_file_line_and_what_is_wrong(tried: list[Tried], field: str) -> None:
    wrong = []
    for item in _of(tried, field):
        verdict, case = item.verdict, item.verdict.case
        if verdict.message is None:
            continue
        located = LOCATED.fullmatch(verdict.message)
        files = {str(case.playbook), str(case.inventory), str(case.playbook.parent / "vars.json")}
        if located is None or located["file"] not in files or int(located["line"]) < 1:
            wrong.append(f"{verdict.value!r}: no file:line: {verdict.message!r}")
        elif len(located["what"]) < 25 or "Traceback" in located["what"] \
                or re.match(r"[A-Z][a-zA-Z]+Error\(", located["what"]):
            wrong.append(f"{verdict.value!r}: vague: {verdict.message!r}")
    assert not wrong, "\n".join(wrong[:20])


def _cli(case: corpus.Case) -> tuple[int, str]:
    """`play PLAYBOOK -i INVENTORY [-e @vars.json]` in-process: its exit status and stderr."""
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
            status = main([str(case.playbook), "-i", str(case.inventory), *case.extra_args])
    finally:
        gc.unfreeze()  # the CLI freezes what it prepared; thousands of runs would pile up
    return status, errors.getvalue()


@pytest.mark.parametrize("field", corpus.FIELD_NAMES)
def test_the_cli_exits_4_on_every_refused_value_before_connecting(
        tried: list[Tried], field: str) -> None:
    wrong = []
    for item in _of(tried, field):
        verdict = item.verdict
        if verdict.message is not None:
            status, stderr = _cli(verdict.case)
            if (status, stderr) != (EXIT_INVALID, f"error: {verdict.message}\n"):
                wrong.append(f"{verdict.route} {verdict.value!r}: exit {status}: {stderr!r}")
    assert not wrong, "\n".join(wrong[:20])


@pytest.mark.parametrize("field", corpus.FIELD_NAMES)
def test_the_cli_runs_accepted_values_until_the_host_is_unreachable(
        tried: list[Tried], field: str) -> None:
    """One accepted value per category (a run costs ~30 ms), by -e where the field takes a
    template: past every check, it stops at the host nothing listens on (3)."""
    route = corpus.field(field).routes[-1]
    chosen: dict[str, corpus.Verdict] = {}
    categories = {item.value: item.category for item in corpus.CORPUS}
    for item in _of(tried, field):
        if item.verdict.is_accepted and item.verdict.route == route:
            chosen.setdefault(categories[item.verdict.value], item.verdict)
    wrong = []
    for verdict in chosen.values():
        status, stderr = _cli(verdict.case)
        if status != EXIT_UNREACHABLE or "Traceback" in stderr:
            wrong.append(f"{verdict.route} {verdict.value!r}: exit {status}: {stderr[-500:]}")
    assert chosen and not wrong, "\n".join(wrong[:20])


def test_every_accepted_host_name_can_hold_the_deploy_lock(tried: list[Tried],
                                                           tmp_path: Path) -> None:
    """All of them in one inventory, one run: the deploy lock is taken on every name (a
    directory each), then every host is unreachable (3)."""
    names = [item.verdict.value for item in _of(tried, "host_name") if item.verdict.is_accepted]
    plays = [{"name": "p", "hosts": "all", "tasks": [{"name": "t", "command": "true"}]}]
    case = _write(tmp_path, plays, hosts={name: {} for name in names})
    status, stderr = _cli(case)
    assert status == EXIT_UNREACHABLE and "Traceback" not in stderr, stderr[-2000:]
    assert not list((tmp_path / "registry" / ".locks").iterdir())  # released


def test_summary(tried: list[Tried]) -> None:
    verdicts = [item.verdict for item in tried]
    text = corpus.summary_text(verdicts)
    print("\n" + text)
    table = corpus.summary(verdicts)
    assert len(verdicts) == sum(len(field.routes) for field in corpus.FIELDS) * len(corpus.CORPUS)
    assert sum(row["accepted"] + row["refused"] for row in table.values()) == len(verdicts)
    assert all(row["accepted"] and row["refused"] for row in table.values()), text


def test_accepted_task_values_arrive_verbatim_on_a_local_host(tmp_path: Path) -> None:
    """The batch tests/e2e/test_hostile.py runs on a lab host, run here on a `connection:
    local` host writing only under tmp_path (no file name in it holds a `/`)."""
    before = _canaries()
    accepted = corpus.TaskBatch.accepted(tmp_path / "classify")
    assert len(accepted.argv) > 150 and len(accepted.dests) > 100 and accepted.sources
    # a run costs a process per command here: two values per category (the lab runs all)
    batch = corpus.TaskBatch(*(_per_category(values, 2) for values in (
        accepted.argv, accepted.dests, accepted.sources)))
    out = tmp_path / "out"
    playbook, extra = batch.write(tmp_path / "run", "local", str(out))
    inventory = tmp_path / "run" / "hosts.yml"
    inventory.write_text(corpus.dump({"all": {"hosts": {"local": {"connection": "local"}},
                                              "vars": {"registry": {"root": str(tmp_path)}}}}))
    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        status = main([str(playbook), "-i", str(inventory), *extra])
    gc.unfreeze()
    assert status == 0, output.getvalue()[-3000:]
    found, expected = corpus.read_tree(out), batch.expected(tmp_path / "run")
    assert sorted(found) == sorted(expected)
    assert [name for name in expected if found[name] != expected[name]] == []
    assert _canaries() == before


def test_accepted_host_names_arrive_verbatim_on_local_hosts(tmp_path: Path) -> None:
    """Each host writes its own name: a name that looks like a template is a name, never
    rendered (it was, as `inventory_hostname`). Two per category (the lab runs all)."""
    before = _canaries()
    accepted = corpus.HostBatch.accepted(tmp_path / "classify")
    assert len(accepted.names) > 100
    batch = corpus.HostBatch(_per_category(accepted.names, 2))
    out = tmp_path / "out"
    playbook, inventory = batch.write(tmp_path / "run", str(out), {"connection": "local"},
                                      {"registry": {"root": str(tmp_path / "registry")}})
    output = io.StringIO()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        status = main([str(playbook), "-i", str(inventory)])
    gc.unfreeze()
    assert status == 0, output.getvalue()[-3000:]
    assert corpus.read_tree(out) == batch.expected()
    assert _canaries() == before


def _per_category(values: list[str], count: int) -> list[str]:
    categories = {item.value: item.category for item in corpus.CORPUS}
    taken: dict[str, list[str]] = {}
    for value in values:
        chosen = taken.setdefault(categories[value], [])
        if len(chosen) < count:
            chosen.append(value)
    return [value for chosen in taken.values() for value in chosen]


# --- the bugs this corpus found -----------------------------------------------------------


def _write(folder: Path, plays: list[dict[str, Any]], extra: dict[str, Any] | None = None,
           hosts: dict[str, dict[str, Any]] | None = None) -> corpus.Case:
    (folder / "templates").mkdir(parents=True, exist_ok=True)
    (folder / "templates" / "a.j2").write_text("a {{ inventory_hostname }}\n")
    playbook, inventory = folder / "play.yml", folder / "hosts.yml"
    playbook.write_text(corpus.dump(plays))
    inventory.write_text(corpus.dump(corpus.inventory_document(hosts or {HOST: {}}, folder)))
    args: tuple[str, ...] = ()
    if extra is not None:
        (folder / "vars.json").write_text(json.dumps(extra))
        args = ("-e", f"@{folder / 'vars.json'}")
    return corpus.Case(playbook, inventory, args)


def _template_task(src: str) -> list[dict[str, Any]]:
    return [{"name": "p", "hosts": "all", "tasks": [
        {"name": "t", "template": {"src": src, "dest": "/srv/play-hostile/out"}}]}]


def test_a_templated_template_src_is_looked_up_beside_the_playbook(tmp_path: Path) -> None:
    case = _write(tmp_path, _template_task("{{ which }}"), {"which": "a.j2"})
    prepared = corpus.prepare_case(case)
    play = prepared.plan.playbook.plays[0]
    task = play.steps[0].body
    args = resolve_local_source(task.action, {"src": "a.j2", "dest": "/x"}, play.source.file)
    assert args["src"] == str((tmp_path / "templates" / "a.j2").resolve())


def test_a_missing_templated_template_src_is_exit_4_not_a_failed_step(tmp_path: Path) -> None:
    case = _write(tmp_path, _template_task("{{ which }}"), {"which": "nope.j2"})
    status, stderr = _cli(case)
    assert status == EXIT_INVALID
    assert f"{case.playbook}:4: 'task t' as rendered for host 'target': file 'nope.j2' " \
           "not found" in stderr


def test_a_template_src_too_long_for_the_file_system_is_exit_4(tmp_path: Path) -> None:
    case = _write(tmp_path, _template_task("x" * 300))
    status, stderr = _cli(case)
    assert status == EXIT_INVALID and "cannot be looked up: File name too long" in stderr


def test_a_json_vars_file_with_characters_beyond_the_bmp_is_read(tmp_path: Path) -> None:
    # json.dumps writes 🚀 as the surrogate pair \ud83d\ude80, which YAML alone refuses
    plays = [{"name": "p", "hosts": "all", "tasks": [
        {"name": "t", "command": {"argv": ["printf", "%s", "{{ hostile }}"]}}]}]
    case = _write(tmp_path, plays, {"hostile": "🚀 and 👨\u200d👩\u200d👧"})
    assert "\\ud83d" in (tmp_path / "vars.json").read_text()
    assert corpus.prepare_case(case).extra_vars["hostile"] == "🚀 and 👨\u200d👩\u200d👧"


def test_a_host_name_that_cannot_name_its_lock_is_refused_at_its_line(tmp_path: Path) -> None:
    plays = [{"name": "p", "hosts": "all", "tasks": [{"name": "t", "command": "true"}]}]
    for name in ("../etc", ".hidden", "a/b", "h" * 201):
        case = _write(tmp_path, plays, hosts={name: {}})
        status, stderr = _cli(case)  # was: a traceback from the deploy lock, after loading
        assert status == EXIT_INVALID, stderr
        assert stderr.startswith(f"error: {case.inventory}:3: host name ") \
            and "deploy lock" in stderr


def test_python_internals_in_a_value_are_exit_4_and_never_reachable(tmp_path: Path) -> None:
    payload = "{{ cycler.__init__.__globals__.os.popen('touch /tmp/play-canary-ssti').read() }}"
    plays = [{"name": "p", "hosts": "all", "containers": [
        {"name": "{{ hostile }}", "image": corpus.IMAGE}]}]
    status, stderr = _cli(_write(tmp_path, plays, {"hostile": payload}))
    assert status == EXIT_INVALID and "templates cannot read '__globals__'" in stderr
    with pytest.raises(Exception, match="unsafe"):  # and rendering itself is sandboxed
        str(render("{{ x.__class__ }}", {"x": ""}))
    assert not os.path.exists("/tmp/play-canary-ssti")


def test_what_a_host_answered_is_never_rendered_again() -> None:
    # registered results are data (as Ansible marks them unsafe): a command's output that
    # looks like a template stays text
    registered = {"printed": {"stdout": "{{ 6 * 7 }} {{ undefined }}"}}
    scope = Scope({"printed": registered["printed"], "var": "{{ 6 * 7 }}"},
                  data=frozenset({"printed"}))
    assert render("{{ printed.stdout }} / {{ var }}", scope) == "{{ 6 * 7 }} {{ undefined }} / 42"
    assert render("{{ item }}", scope.child({"item": "{{ 6 * 7 }}"})) == "{{ 6 * 7 }}"


def test_an_extra_var_that_is_not_utf8_is_exit_4(tmp_path: Path) -> None:
    plays = [{"name": "p", "hosts": "all", "tasks": [{"name": "t", "command": "true"}]}]
    case = _write(tmp_path, plays)
    status, stderr = _cli(corpus.Case(case.playbook, case.inventory,
                                      ("-e", os.fsdecode(b"x=a\xffb"))))
    assert status == EXIT_INVALID and "is not valid UTF-8" in stderr


@pytest.mark.parametrize("volume, problem", [
    ("data:/x", None), ("/srv/a b:/x:ro,z", None), ("/x", None), ("/x:ro", None),
    ("./data:/x", "absolute path or a volume name"), ("~/data:/x", "absolute path"),
    ("/a:/b:/c", "unknown options"), ("/a:b", "must be absolute"), (":/x", "volume name"),
    ("-v/:/host:/x:ro", "has 3 ':'"), ("/a\0b:/x", "NUL"),
])
def test_volumes_are_checked_as_docker_reads_them(volume: str, problem: str | None) -> None:
    from engine.playbook.values import volume_problem

    found = volume_problem(volume)
    assert (found is None) if problem is None else (found is not None and problem in found)
