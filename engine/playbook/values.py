"""What Docker, POSIX and the registry accept in the values a step passes on: container
and service names, env and label names, volumes, file paths, NUL characters.

A value they would refuse must stop the run with exit 4 before anything runs, not fail
on a host halfway through a rollout. The loader applies the `*_problems` functions to values
written literally; engine/checks/rendered.py applies them again to templates rendered for each host.
Pure functions: a problem is a sentence, or None.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from engine.actions.catalog import CATALOG
from engine.actions.control import meta_problem, variable_name_problem
from engine.actions.modes import mode_problem
from engine.errors import did_you_mean
from engine.names import check_name, instance_id
from engine.nested import leaves, rebuilt
from engine.templating import is_template

# Docker's own rule (moby daemon/names: `^[a-zA-Z0-9][a-zA-Z0-9_.-]+$`): at least two
# characters. Named volumes follow it too.
_DOCKER_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]+")
# `-v` options Docker knows on Linux (comma-separated after the second ':')
_VOLUME_OPTIONS = frozenset({"ro", "rw", "z", "Z", "nocopy", "shared", "rshared", "slave",
                             "rslave", "private", "rprivate", "delegated", "cached",
                             "consistent"})
NAME_MAX = 255    # bytes in one path component on every Linux file system
PATH_MAX = 4096   # bytes in a path, its terminating NUL included

# Task arguments that travel as data on stdin, never as a command argument or file name.
_STDIN_ARGS = frozenset({"content", "stdin"})


# A refusal quotes the value it refuses, unless it is or holds a secret: only the pre-run
# checks know a host's secrets (engine/checks/rendered.py), and they set this while they refuse.
_IS_SECRET: ContextVar[Callable[[str], bool]] = ContextVar("is_secret", default=lambda text: False)
NOT_SHOWN = "(a value that holds a secret, not shown)"


@contextmanager
def hiding(is_secret: Callable[[str], bool]) -> Iterator[None]:
    """Within: no refusal quotes a value for which `is_secret` is true."""
    token = _IS_SECRET.set(is_secret)
    try:
        yield
    finally:
        _IS_SECRET.reset(token)


class Later:
    """Stands for a template that is rendered later: there is no value to check yet."""

    __slots__ = ("text",)  # compared by identity: two templated env names stay two keys

    def __init__(self, text: str) -> None:
        self.text = text


def as_written(value: Any) -> Any:
    """`value` with every template string (mapping keys included) replaced by `Later`: what
    the loader can check before any variable exists."""
    return rebuilt(value, lambda leaf: Later(leaf) if is_template(leaf) else leaf,
                   with_dataclasses=True)


def nul_problem(text: str) -> str | None:
    if "\0" not in text:
        return None
    return (f"{_short(text)} holds a NUL character, which no command argument, file name or "
            "environment variable can carry")


def container_name_problem(name: str) -> str | None:
    if _DOCKER_NAME.fullmatch(name):
        return None
    return (f"container name {_short(name)} is not one Docker accepts: two or more letters, "
            "digits, '_', '.' or '-', starting with a letter or digit")


def env_name_problem(name: str) -> str | None:
    # The env goes to the host in an env file (engine/containers/spec.py), which the docker
    # CLI splits at the first '=', strips of leading whitespace, refuses with whitespace in
    # a name, skips when it starts with '#', and imports from its own environment without '='
    if name and "=" not in name and "\0" not in name and not name.startswith(("#", "\ufeff")) \
            and not any(char.isspace() for char in name):
        return None
    return (f"env name {_short(name)} must be non-empty, without whitespace, '=' or NUL "
            "characters, not starting with '#' (Docker's env file reads NAME=VALUE lines)")


def env_value_problem(value: str) -> str | None:
    if "\n" not in value and "\r" not in value:
        return None
    return (f"env value {_short(value)} holds a line break: Docker's env file holds one "
            "NAME=VALUE per line; put the value in a file (copy or template) and mount it")


def label_name_problem(name: str) -> str | None:
    # the docker CLI refuses a label name with whitespace and strips leading whitespace
    if name and "=" not in name and "\0" not in name and not any(c.isspace() for c in name):
        return None
    return (f"label name {_short(name)} must be non-empty, without whitespace, '=' or NUL "
            "characters (Docker splits name=value at the first '=')")


def path_problem(path: str) -> str | None:
    if "\0" in path:
        return nul_problem(path)
    encoded = path.encode("utf-8", "surrogatepass")
    if len(encoded) >= PATH_MAX:
        return f"path {_short(path)} is {len(encoded)} bytes; Linux paths are shorter than " \
               f"{PATH_MAX}"
    parts = encoded.split(b"/")
    longest = max(parts, key=len)
    if len(longest) > NAME_MAX:
        return (f"path {_short(path)} has a file name of {len(longest)} bytes; Linux file "
                f"names are at most {NAME_MAX}")
    return None


def volume_problem(volume: str) -> str | None:
    """`[source:]destination[:options]` as `docker run -v` reads it; the source is an
    absolute host path or a volume name."""
    if "\0" in volume:
        return nul_problem(volume)
    parts = volume.split(":")
    if len(parts) > 3:
        return (f"volume {_short(volume)} has {len(parts) - 1} ':'; write SOURCE:DESTINATION"
                "[:OPTIONS] - a host path holding ':' cannot be mounted with -v")
    if len(parts) == 1 or (len(parts) == 2 and _are_options(parts[1])):
        source, destination, options = None, parts[0], "".join(parts[1:])  # anonymous
    else:
        source, destination, options = parts[0], parts[1], "".join(parts[2:])
    if not destination.startswith("/"):
        return f"volume {_short(volume)}: the path in the container must be absolute, not " \
               f"{_short(destination)}"
    if options and not _are_options(options):
        return (f"volume {_short(volume)}: unknown options {_short(options)}; use "
                f"{', '.join(sorted(_VOLUME_OPTIONS, key=str.lower))} (comma-separated)")
    if source is None:
        return None
    if source.startswith("/"):
        problem = path_problem(source)
        return None if problem is None else f"volume {_short(volume)}: {problem}"
    if not _DOCKER_NAME.fullmatch(source) or len(source) > NAME_MAX:
        return (f"volume {_short(volume)}: the host side must be an absolute path or a volume "
                f"name (letters, digits, '_', '.', '-', at most {NAME_MAX}), not "
                f"{_short(source)}")
    return None


def _are_options(text: str) -> bool:
    return bool(text) and all(option in _VOLUME_OPTIONS for option in text.split(","))


def service_name_problem(name: str) -> str | None:
    # the registry's own rule: a service names a directory of the file backend and a
    # segment of an etcd key
    try:
        check_name("service", name)
    except ValueError as error:
        return str(error)
    return None


def command_line_problem(line: str) -> str | None:
    try:
        shlex.split(line)
    except ValueError as error:
        return f"command {_short(line)} cannot be split into arguments: {error}"
    return None


Problem = tuple[tuple[Any, ...], str]   # where in the step (keys and indexes), what is wrong


def container_problems(name: str | Later, spec: Mapping[str, Any]) -> Iterator[Problem]:
    """`spec` holds the container's keys (ContainerSpec fields), rendered or `as_written`;
    `Later` values are left for later."""
    if isinstance(name, str):
        yield from _found(("name",), container_name_problem(name))
    env = spec.get("env")
    for key, value in (env.items() if isinstance(env, Mapping) else ()):
        if isinstance(key, str):
            yield from _found(("env", key), env_name_problem(key))
        if isinstance(value, str):
            yield from _found(("env", key), env_value_problem(value))
    for key in (spec.get("labels") or {}):
        if isinstance(key, str):
            yield from _found(("labels", key), label_name_problem(key))
    for index, volume in enumerate(spec.get("volumes") or ()):
        if isinstance(volume, str):
            yield from _found(("volumes", index), volume_problem(volume))
    for key in ("command", "entrypoint"):
        if isinstance(spec.get(key), str):
            yield from _found((key,), command_line_problem(spec[key]))
    yield from _docker_value_problems(spec)
    for path, text in _strings_at(spec):
        yield from _found(path, nul_problem(text))


# docker's units (go-units RAMInBytes): 512m, 1.5g, 1GiB, 1048576
_MEMORY = re.compile(r"[0-9]+(?:\.[0-9]+)?\s?(?:[kKmMgGtTpP][iI]?[bB]?|[bB])?")
_PORTS = re.compile(r"[0-9]{1,5}(?:-[0-9]{1,5})?")


def _docker_value_problems(spec: Mapping[str, Any]) -> Iterator[Problem]:
    """Values `docker run` refuses: an empty image, ports, memory, cpus."""
    image = spec.get("image")
    if isinstance(image, str) and not image.strip():
        yield ("image",), "image must name an image (such as 'nginx:1.27'), not ''"
    for index, mapping in enumerate(spec.get("ports") or ()):
        if isinstance(mapping, str):
            yield from _found(("ports", index), port_mapping_problem(mapping))
    memory = spec.get("memory")
    if isinstance(memory, (str, int)) and not isinstance(memory, bool) \
            and not _MEMORY.fullmatch(str(memory).strip()):
        yield ("memory",), (f"memory {_short(str(memory))} is not a size Docker reads: a "
                            "number with an optional unit b, k, m, g (512m, 1.5g)")
    cpus = spec.get("cpus")
    if isinstance(cpus, (int, float)) and not isinstance(cpus, bool) and \
            not (math.isfinite(cpus) and cpus > 0):
        yield ("cpus",), f"cpus must be a number of CPUs above 0 (0.5, 2), not {cpus!r}"


def port_mapping_problem(mapping: str) -> str | None:
    """`[ip:][host_port:]container_port[/protocol]` as `docker run -p` reads it; a port is
    1..65535 or a range of them (8000-8010)."""
    ports, _, protocol = mapping.partition("/")
    if protocol and protocol not in ("tcp", "udp", "sctp"):
        return f"port {_short(mapping)}: the protocol must be tcp, udp or sctp"
    if ports.startswith("["):  # an IPv6 address: [::1]:8080:80
        ports = ports[ports.find("]") + 1:].lstrip(":")
    parts = ports.split(":")
    if len(parts) == 3:
        parts = parts[1:]  # the address to bind to; an empty host port picks one
    if len(parts) > 2 or not all(_is_port_range(part) for part in parts if part) \
            or not parts[-1]:
        return (f"port {_short(mapping)} is not one Docker reads: write [IP:][HOST_PORT:]"
                "CONTAINER_PORT[/tcp|udp], each port a number from 1 to 65535 "
                "(\"8080:80\", \"127.0.0.1:8080:80\")")
    return None


def _is_port_range(text: str) -> bool:
    return _PORTS.fullmatch(text) is not None and all(
        0 < int(port) < 65536 for port in text.split("-"))


def instance_problem(service: str, host: str) -> str | None:
    try:
        instance_id(service, host)
    except ValueError as error:
        return str(error)
    return None


def service_problems(name: str | Later, host: str | None = None) -> Iterator[Problem]:
    """Tags and meta are JSON in the record: any text is fine there. With `host`, the
    name of the host's record (`<service>@<host>`) is checked too."""
    if isinstance(name, str):
        problem = service_name_problem(name)
        if problem is None and host is not None:
            problem = instance_problem(name, host)
        yield from _found(("name",), problem)


def task_problems(action: str, args: Any) -> Iterator[Problem]:
    """`args` is the action's mapping (or its free-form string), rendered or `as_written`."""
    if action == "command":
        line = args if isinstance(args, str) else None
        if isinstance(args, Mapping) and not args.get("argv"):
            line = args.get("cmd")
        if isinstance(line, str):
            yield from _found(("cmd",), command_line_problem(line))
    if action == "set_fact" and isinstance(args, Mapping):
        for name in args:
            if isinstance(name, str) and name != "cacheable":
                yield from _found((name,), variable_name_problem(name))
    if action == "meta" and isinstance(args, str) and not is_template(args):
        yield from _found((), meta_problem(args))
    if isinstance(args, Mapping):
        yield from _argument_problems(action, args)
    for path, text in _strings_at(args):
        if not (path and path[0] in _STDIN_ARGS):
            yield from _found(path, nul_problem(text))


def _argument_problems(action: str, args: Mapping[str, Any]) -> Iterator[Problem]:
    """The rules of the action's catalog entry, for each argument known now."""
    entry = CATALOG[action]
    for key in entry.required:
        if args.get(key) == "":
            yield (key,), f"{key} of the {action!r} action must not be empty"
    for key in entry.remote_paths:
        if isinstance(args.get(key), str):
            yield from _found((key,), path_problem(args[key]))
    for key, words in entry.choices.items():
        value = args.get(key)
        if value is None or value == "" or isinstance(value, Later):
            continue
        if str(value) not in words:
            yield (key,), (f"{key} of the {action!r} action must be one of "
                           f"{', '.join(words)}, not {_short(str(value))}"
                           f"{did_you_mean(str(value), words)}")
    for key in entry.modes:
        if not isinstance(args.get(key), Later):
            yield from _found((key,), mode_problem(args.get(key)))
    for key in entry.ports:
        if args.get(key) is not None and not isinstance(args[key], Later):
            yield from _found((key,), port_problem(args[key], f"{key} of the {action!r} action"))


def port_problem(value: Any, what: str) -> str | None:
    """A TCP port: a whole number 1..65535 (a number written as text too)."""
    number = value if isinstance(value, int) and not isinstance(value, bool) else None
    if isinstance(value, str) and value.strip().isdigit() and value.strip().isascii():
        number = int(value)
    if number is not None and 0 < number < 65536:
        return None
    return f"{what} must be a port number from 1 to 65535, not {_short(str(value))}"


def _found(path: tuple[Any, ...], problem: str | None) -> Iterator[Problem]:
    if problem is not None:
        yield path, problem


def _strings_at(value: Any) -> Iterator[tuple[tuple[Any, ...], str]]:
    return ((path, leaf) for path, leaf in leaves(value) if isinstance(leaf, str))


def _short(text: str) -> str:
    if _IS_SECRET.get()(text):
        return NOT_SHOWN
    shown = repr(text)
    return shown if len(shown) <= 60 else shown[:57] + "..."
