"""Hostile values for every field a user's value reaches (SPEC, Safety: values arrive
verbatim and execute nothing), shared by tests/unit/test_hostile_input.py and
tests/e2e/test_hostile.py.

Every injection payload tries to create a file whose name starts with `play-canary` in
/tmp or /srv (`CANARY_GLOBS`), so a test can check that none appeared anywhere.

`FIELDS` says where a value goes in a playbook or inventory; `classify` runs play's
preparation stage (load, plan, pre-run checks: everything exit status 4 covers) on one
(field, value, route) and says whether play accepts the value or refuses it, and why.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CANARY = "play-canary"
CANARY_GLOBS = ("/tmp/play-canary*", "/srv/play-canary*")


@dataclass(frozen=True)
class Hostile:
    category: str
    value: str

    @property
    def is_template(self) -> bool:
        """Jinja2 text: play renders it (SPEC: Jinja2 everywhere a string appears), so it
        arrives as Jinja2 renders it, not as written."""
        return "{{" in self.value or "{%" in self.value or "{#" in self.value


def _values(category: str, *values: str) -> list[Hostile]:
    return [Hostile(category, value) for value in values]


_TOUCH = "touch /tmp/play-canary"
CORPUS: tuple[Hostile, ...] = tuple([
    *_values(
        "shell",
        f"$({_TOUCH})", f"`{_TOUCH}`", ";touch /srv/play-canary;", f"| {_TOUCH}-pipe",
        f"&& {_TOUCH}-and", f"|| {_TOUCH}-or", "> /tmp/play-canary-redirect",
        f"& {_TOUCH}-bg &", f"<({_TOUCH}-procsub)", f"x; {_TOUCH}-semi #",
        f"'; {_TOUCH}-squote; '", f'"; {_TOUCH}-dquote; "', f"\\'; {_TOUCH}-bsq",
        "$(touch${IFS}/tmp/play-canary-ifs)", f"\n{_TOUCH}-newline\n",
        f"\r\n{_TOUCH}-crlf", "${HOME}", "$HOME", "$((6*7))", "$0 $1 $@ $*", "!!",
        "a\\", "\\", "\\\\n", "$'\\x41'",
    ),
    *_values(
        "quotes",
        "'", '"', "`", "it's", '"quoted"', "'\"'\"'", "unbalanced 'quote", '""', "''",
    ),
    *_values(
        "control",
        "line1\nline2", "trailing newline\n", "\r", "carriage\rreturn", "tab\there", "\t",
        "\x0b\x0c", "\x1b[31mred\x1b[0m", "\x1b]0;title\x07", "bell\x07", "del\x7f",
        "back\x08space", "nul\x00byte", "\x00", "end with nul\x00", "\x1b[2J\x1b[H",
    ),
    *_values(
        "unicode",
        "ünïcødé", "名前", "🚀", "👨\u200d👩\u200d👧", "rtl\u202eevil\u202c",
        "zero\u200bwidth", "\ufeffbom", "e\u0301", "ｆｕｌｌｗｉｄｔｈ", "line\u2028sep",
        "next\u0085line", "non\uffffchar", "Ω≈ç√∫", "ひらがな/カタカナ",
        "lone \ud800 surrogate",
    ),
    *_values(
        "long",
        "a" * 4096, "b" * 10000, f"$({_TOUCH})" * 200, "é" * 2100, "x" * 255, "y" * 256,
        "/".join(["d"] * 2100),
    ),
    *_values(
        "blank",
        "", " ", "   ", " leading", "trailing ", "\n", "\t \n",
    ),
    *_values(
        "option",
        "--privileged", "-v/:/host", "-v /:/host", "--network=host", "-e", "-", "--",
        "-rf", "--help", "--volume=/:/host", "-oProxyCommand=touch /tmp/play-canary-ssh",
        "--rm", "-n", "--pid=host",
    ),
    *_values(
        "path",
        "..", ".", "../", "../../etc/passwd", "../../../../../../tmp/play-canary-traversal",
        "/", "//", "/etc/passwd", "./x", "a/../../b", "~/x", "~root", "x/", "....//",
        "/srv/play-hostile/a b", "/srv/play-hostile/../play-hostile/ünï", "%2e%2e%2f",
    ),
    *_values(
        "glob",
        "*", "?", "[a-z]*", "/*", "**", "{a,b}", "!(x)", "[!a]",
    ),
    *_values(
        "template",
        "{{ 7*7 }}", "{{", "}}", "{% raw %}", "{#", "${{ x }}", "{{ undefined_thing }}",
        "{{ lookup('pipe', 'touch /tmp/play-canary-lookup') }}",
        "{{ cycler.__init__.__globals__.os.popen('touch /tmp/play-canary-ssti').read() }}",
        "{{ ''.__class__.__mro__ }}", "{% for x in range(3) %}{{ x }}{% endfor %}",
        "{{ '{{' }}", "{{ inventory_hostname }}",
    ),
    *_values(
        "format",
        "%s", "%n%n%n%n", "%(x)s", "{0}", "{}", "%x%x", "%%", "{name!r}",
    ),
    *_values(
        "yaml",
        "~", "null", "yes", "no", "on", "off", "true", "0x1F", "1e3", "0o17", "017", ":",
        "- x", "#", "# comment", "&anchor", "*alias", "!tag", "---", "...", "? x",
        "[a, b]", "{a: b}", "|", ">", "@x", "%YAML 1.2", "1_000", ".inf", ".nan",
        "2024-01-01", "0", "-1", "+1", "12:30:00", "<<",
    ),
    *_values(
        "separator",
        "a=b", "a:b", "=", ",", "a,b=c", "C:\\Windows", "key=value\nOTHER=x", "a;b", "a b",
        "@", "user@host",
    ),
    *_values(
        "misc",
        "<script>alert(1)</script>", "' OR 1=1 --", "http://127.0.0.1:9/x?a=b&c=d",
        "play-canary", "CON", "NUL",
    ),
])

assert len({item.value for item in CORPUS}) == len(CORPUS), "the corpus repeats a value"


def corpus_values() -> list[str]:
    return [item.value for item in CORPUS]


# --- where a value goes ------------------------------------------------------------------

IMAGE = "play-lab/busybox:latest"
TEMPLATE_NAME = "hostile.j2"
TEMPLATE_TEXT = "hostile template\n"
ROUTES = ("literal", "template")   # written in the YAML, or `{{ hostile }}` with -e @vars


@dataclass(frozen=True)
class Documents:
    """A playbook (list of plays) and the hosts of its inventory (name -> vars)."""

    plays: list[dict[str, Any]]
    hosts: dict[str, dict[str, Any]]


def _play(**sections: Any) -> dict[str, Any]:
    return {"name": "hostile", "hosts": "all", **sections}


def _container(name: str = "hostile-box", **keys: Any) -> dict[str, Any]:
    return {"name": name, "image": IMAGE, "network": "host", **keys}


@dataclass(frozen=True)
class Field:
    """One place a user's value reaches. `place(text, folder)` builds the documents with
    `text` (the value itself, or `{{ hostile }}`) there; `folder` is the test's own."""

    name: str
    what: str
    place: Callable[[str, Path], Documents]
    routes: tuple[str, ...] = ROUTES


def _target(folder: Path) -> dict[str, dict[str, Any]]:
    return {"target": {}}  # one host; its connection vars come from inventory_document


def _host_name(text: str, folder: Path) -> Documents:
    return Documents([_play(tasks=[{"name": "argv", "command": {"argv": ["true"]}}])],
                     {text: {}})


def _substitute(document: Any, text: str) -> Any:
    """`document` with "VALUE" replaced by `text` in every string."""
    if isinstance(document, str):
        return document.replace("VALUE", text)
    if isinstance(document, dict):
        return {key: _substitute(item, text) for key, item in document.items()}
    if isinstance(document, list):
        return [_substitute(item, text) for item in document]
    return document


def _task(**task: Any) -> Callable[[str, Path], Documents]:
    def place(text: str, folder: Path) -> Documents:
        return Documents([_play(tasks=[{"name": "task", **_substitute(task, text)}])],
                         _target(folder))
    return place


def _play_var(text: str, folder: Path) -> Documents:
    return Documents([_play(vars={"from_play": text}, tasks=[
        {"name": "argv", "command": {"argv": ["printf", "%s", "{{ from_play }}"]}}])],
        _target(folder))


def _containers(make: Callable[[str], dict[str, Any]]) -> Callable[[str, Path], Documents]:
    def place(text: str, folder: Path) -> Documents:
        return Documents([_play(containers=[make(text)])], _target(folder))
    return place


def _service(make: Callable[[str], dict[str, Any]]) -> Callable[[str, Path], Documents]:
    def place(text: str, folder: Path) -> Documents:
        service = {"name": "hostile-svc", "container": "hostile-box", "port": 8080,
                   **make(text)}
        return Documents([_play(containers=[_container()], services=[service])],
                         _target(folder))
    return place


def _template_src(text: str, folder: Path) -> Documents:
    return Documents([_play(tasks=[{"name": "template", "template": {
        "src": text, "dest": "/srv/play-hostile/out"}}])], _target(folder))


FIELDS: tuple[Field, ...] = (
    Field("host_name", "an inventory host name", _host_name, routes=("literal",)),
    Field("play_var", "a play var used as a command argument", _play_var,
          routes=("literal",)),
    Field("task_arg", "a command task's argument",
          _task(command={"argv": ["printf", "%s", "VALUE"]})),
    Field("template_src", "a template task's src", _template_src),
    Field("template_dest", "a template task's dest (under a directory)",
          _task(template={"src": TEMPLATE_NAME, "dest": "/srv/play-hostile/VALUE"})),
    Field("container_name", "a container's name", _containers(lambda text: _container(text))),
    Field("env_value", "a container env value",
          _containers(lambda text: _container(env={"HOSTILE": text}))),
    Field("env_key", "a container env key",
          _containers(lambda text: _container(env={text: "x"}))),
    Field("label_value", "a container label value",
          _containers(lambda text: _container(labels={"hostile": text}))),
    Field("label_key", "a container label key",
          _containers(lambda text: _container(labels={text: "x"}))),
    Field("volume_host", "a volume's host path",
          _containers(lambda text: _container(volumes=[f"{text}:/hostile:ro"]))),
    Field("command_arg", "a container command argument",
          _containers(lambda text: _container(command=["sh", "-c", "sleep 1", "--", text]))),
    Field("service_name", "a service name", _service(lambda text: {"name": text})),
    Field("service_tag", "a service tag", _service(lambda text: {"tags": [text]})),
    Field("service_meta", "a service meta value", _service(lambda text: {"meta": {"m": text}})),
)
FIELD_NAMES = tuple(field.name for field in FIELDS)


def field(name: str) -> Field:
    return next(item for item in FIELDS if item.name == name)


# --- writing the files -------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    """The files of one (field, value, route), ready for `play PLAYBOOK -i INVENTORY
    *extra_args`."""

    playbook: Path
    inventory: Path
    extra_args: tuple[str, ...]


def dump(document: Any) -> str:
    """YAML any string survives: NUL, control characters and non-ASCII are written as
    double-quoted escapes, and a scalar that would read as another type is quoted."""
    options: dict[str, Any] = {"allow_unicode": False, "width": 2**20, "sort_keys": False}
    try:  # libyaml's emitter is ten times faster; it cannot write a lone surrogate
        return yaml.dump(document, Dumper=getattr(yaml, "CSafeDumper", yaml.SafeDumper),
                         **options)
    except UnicodeEncodeError:
        return yaml.dump(document, Dumper=yaml.SafeDumper, **options)


def inventory_document(hosts: dict[str, dict[str, Any]], folder: Path) -> dict[str, Any]:
    """Hosts at 127.0.0.1 port 9 (discard: nothing listens, so a run that gets that far is
    unreachable, exit 3); the deploy lock and registry in the test's own folder."""
    defaults = {"address": "127.0.0.1", "port": 9, "connect_timeout": 2,
                "known_hosts": str(folder / "known_hosts")}
    return {"all": {
        "hosts": {name: {**defaults, **vars_} for name, vars_ in hosts.items()},
        "vars": {"registry": {"root": str(folder / "registry")}},
    }}


def template_file_name_is_possible(value: str) -> bool:
    """Whether a file of this name can exist in a folder (for the template_src field)."""
    return value not in ("", ".", "..") and "/" not in value and "\0" not in value \
        and is_utf8(value) and len(value.encode("utf-8")) <= 255


def is_utf8(value: str) -> bool:
    """Whether the text can be sent to a host at all (a lone surrogate cannot)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def write_case(field_: Field, value: str, route: str, folder: Path) -> Case:
    """The playbook, inventory, template and vars file for one (field, value, route)."""
    folder.mkdir(parents=True, exist_ok=True)
    templates = folder / "templates"
    templates.mkdir(exist_ok=True)
    (templates / TEMPLATE_NAME).write_text(TEMPLATE_TEXT)
    if field_.name == "template_src" and template_file_name_is_possible(value):
        (templates / value).write_text(TEMPLATE_TEXT)
    text = value if route == "literal" else "{{ hostile }}"
    documents = field_.place(text, folder)
    playbook = folder / "play.yml"
    playbook.write_text(dump(documents.plays))
    inventory = folder / "hosts.yml"
    inventory.write_text(dump(inventory_document(documents.hosts, folder)))
    extra: tuple[str, ...] = ()
    if route == "template":
        vars_file = folder / "vars.json"
        # a lone surrogate cannot be UTF-8: JSON's \ud800 escape is how it gets there
        vars_file.write_text(json.dumps({"hostile": value}))
        extra = ("-e", f"@{vars_file}")
    return Case(playbook, inventory, extra)


# --- classifying -------------------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    field: str
    value: str
    route: str
    case: Case
    message: str | None      # None: accepted; else what play prints before exit 4

    @property
    def is_accepted(self) -> bool:
        return self.message is None


def prepare_case(case: Case) -> Any:
    """What `play` does with these files before anything runs (load, plan, pre-run checks,
    connection settings): the `engine.run.Prepared` run, or `InputError` (exit 4)."""
    from engine.commands.options import read_inventory as _load_inventory
    from engine.run import prepare
    from engine.run_options import RunOptions

    options = RunOptions(playbook=str(case.playbook), inventories=(str(case.inventory),),
                         extra_vars=tuple(arg for arg in case.extra_args if arg != "-e"))
    prepared = prepare(options, _load_inventory)
    prepared.connection_settings  # noqa: B018 - bad connection vars are exit 4 as well
    return prepared


def classify(field_: Field, value: str, route: str, folder: Path) -> Verdict:
    """Accepted, or refused with the message play would print (exit 4)."""
    from engine.errors import InputError

    case = write_case(field_, value, route, folder)
    try:
        prepare_case(case)
    except InputError as error:
        return Verdict(field_.name, value, route, case, str(error))
    return Verdict(field_.name, value, route, case, None)


def pairs(fields: Iterable[Field] = FIELDS) -> Iterator[tuple[Field, str, str]]:
    """Every (field, route, value) tried, in a stable order."""
    for field_ in fields:
        for route in field_.routes:
            for value in corpus_values():
                yield field_, route, value


def accepted_values(field_name: str, route: str, folder: Path) -> list[str]:
    """The corpus values play accepts in this field by this route, in corpus order."""
    chosen = field(field_name)
    return [value for index, value in enumerate(corpus_values())
            if classify(chosen, value, route, folder / f"{field_name}-{route}-{index}"
                        ).is_accepted]


def summary(verdicts: Iterable[Verdict]) -> dict[str, dict[str, int]]:
    """field -> {"accepted": n, "refused": m}, over both routes, in FIELDS order."""
    table = {name: {"accepted": 0, "refused": 0} for name in FIELD_NAMES}
    for verdict in verdicts:
        table[verdict.field]["accepted" if verdict.is_accepted else "refused"] += 1
    return table


def summary_text(verdicts: list[Verdict]) -> str:
    """The table docs/reliability.md quotes."""
    table = summary(verdicts)
    lines = [f"{len(CORPUS)} hostile values in {len({item.category for item in CORPUS})} "
             f"categories, {len(FIELDS)} fields, {len(verdicts)} (field, route, value) tried",
             f"{'field':<16}{'accepted':>10}{'refused':>10}"]
    lines += [f"{name:<16}{row['accepted']:>10}{row['refused']:>10}"
              for name, row in table.items()]
    accepted = sum(row["accepted"] for row in table.values())
    lines.append(f"{'total':<16}{accepted:>10}{len(verdicts) - accepted:>10}")
    return "\n".join(lines)


# --- batches: every accepted value of a field in one run ----------------------------------


def is_plain_file_name(value: str) -> bool:
    """One file name that a file of its own can have: not empty, `.`, `..`; no `/` or NUL;
    at most NAME_MAX bytes (play writes it through a temp file of its own name, .play-tmp.*)."""
    return value not in ("", ".", "..") and "/" not in value and "\0" not in value \
        and is_utf8(value) and len(value.encode("utf-8")) <= 255


def is_shown_verbatim(value: str) -> bool:
    """A value that arrives exactly as written: not Jinja2 text (rendered by design)."""
    return not Hostile("", value).is_template


@dataclass(frozen=True)
class TaskBatch:
    """Accepted task values, all in one playbook run on one host: command arguments
    (printed back, and written as content), template destinations (file names in one
    directory) and template sources."""

    argv: list[str]
    dests: list[str]
    sources: list[str]

    @classmethod
    def accepted(cls, folder: Path) -> TaskBatch:
        """The corpus values play accepts through `-e @vars.json`, as they can be checked:
        not Jinja2 text, destinations that are one file name."""
        def values(name: str) -> list[str]:
            return [value for value in accepted_values(name, "template", folder)
                    if is_shown_verbatim(value)]
        return cls(values("task_arg"), [value for value in values("template_dest")
                                         if is_plain_file_name(value)],
                   values("template_src"))

    def write(self, folder: Path, hosts: str, remote_dir: str) -> tuple[Path, tuple[str, ...]]:
        """The playbook (in `folder`, templates beside it) and its `-e @vars.json`."""
        templates = folder / "templates"
        templates.mkdir(parents=True, exist_ok=True)
        (templates / TEMPLATE_NAME).write_text(TEMPLATE_TEXT)
        for index, source in enumerate(self.sources):
            if template_file_name_is_possible(source):
                (templates / source).write_text(f"source {index}\n")
        loop = "{{ range(%s | length) | list }}"
        tasks: list[dict[str, Any]] = [
            {"name": "dirs", "file": {"path": "{{ dir }}/{{ item }}", "state": "directory"},
             "loop": ["echo", "content", "dest", "src"]},
            {"name": "argv", "command": {"argv": ["printf", "%s", "{{ argv_values[item] }}"]},
             "loop": loop % "argv_values", "register": "printed"},
            {"name": "echo back", "copy": {"content": "{{ printed.results[item].stdout }}",
                                           "dest": "{{ dir }}/echo/{{ item }}"},
             "loop": loop % "argv_values"},
            {"name": "content", "copy": {"content": "{{ argv_values[item] }}",
                                         "dest": "{{ dir }}/content/{{ item }}"},
             "loop": loop % "argv_values"},
            {"name": "dest", "template": {"src": TEMPLATE_NAME,
                                          "dest": "{{ dir }}/dest/{{ dest_names[item] }}"},
             "loop": loop % "dest_names"},
            {"name": "src", "template": {"src": "{{ src_names[item] }}",
                                         "dest": "{{ dir }}/src/{{ item }}"},
             "loop": loop % "src_names"},
        ]
        playbook = folder / "tasks.yml"
        playbook.write_text(dump([{"name": "hostile tasks", "hosts": hosts, "tasks": tasks}]))
        vars_file = folder / "tasks.json"
        vars_file.write_text(json.dumps({"dir": remote_dir, "argv_values": self.argv,
                                         "dest_names": self.dests, "src_names": self.sources}))
        return playbook, ("-e", f"@{vars_file}")

    def expected(self, folder: Path) -> dict[str, bytes]:
        """What the directory holds afterwards: relative path -> content. A command's
        output loses its trailing newlines when registered (stdout, as in Ansible)."""
        files = {}
        for index, value in enumerate(self.argv):
            files[f"echo/{index}"] = value.rstrip("\r\n").encode()
            files[f"content/{index}"] = value.encode()
        for name in self.dests:
            files[f"dest/{name}"] = TEMPLATE_TEXT.encode()
        for index, source in enumerate(self.sources):
            path = Path(source) if source.startswith("/") else folder / "templates" / source
            files[f"src/{index}"] = path.read_bytes()
        return files


def read_tree(root: Path) -> dict[str, bytes]:
    """Every file under `root`: relative path -> content."""
    return {str(path.relative_to(root)): path.read_bytes()
            for path in sorted(root.rglob("*")) if path.is_file()}


@dataclass(frozen=True)
class HostBatch:
    """Accepted inventory host names, all in one inventory: each host writes its own name
    (`inventory_hostname`) into a file named by its index."""

    names: list[str]

    @classmethod
    def accepted(cls, folder: Path) -> HostBatch:
        return cls(accepted_values("host_name", "literal", folder))

    def write(self, folder: Path, remote_dir: str, host_vars: dict[str, Any],
              group_vars: dict[str, Any]) -> tuple[Path, Path]:
        """The playbook and inventory; `host_vars` say how to reach every host."""
        folder.mkdir(parents=True, exist_ok=True)
        tasks = [{"name": "dir", "file": {"path": "{{ dir }}", "state": "directory"}},
                 {"name": "own name", "copy": {"content": "{{ inventory_hostname }}",
                                               "dest": "{{ dir }}/host-{{ n }}"}}]
        playbook = folder / "hosts_play.yml"
        playbook.write_text(dump([{"name": "hostile hosts", "hosts": "all",
                                   "vars": {"dir": remote_dir}, "tasks": tasks}]))
        inventory = folder / "hostile_hosts.yml"
        inventory.write_text(dump({"all": {
            "hosts": {name: {**host_vars, "n": index} for index, name in enumerate(self.names)},
            "vars": group_vars}}))
        return playbook, inventory

    def expected(self) -> dict[str, bytes]:
        return {f"host-{index}": name.encode() for index, name in enumerate(self.names)}
