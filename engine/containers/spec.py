"""The desired container, rendered for one host: its canonical form, the spec hash kept
in a label and the env file that carries its environment (never an argument: `ps` and
/proc/*/cmdline show those to every user of the host). Pure functions; the `docker`
command lines that create it are built in containers/docker.py, with every other docker
call the reconciler makes.
"""

from __future__ import annotations

import functools
import hashlib
import json
import shlex
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

from engine.playbook.values import env_name_problem

LABEL_MANAGED = "play.managed"
LABEL_NAME = "play.name"
LABEL_HASH = "play.spec-hash"
LABEL_PLAY = "play.play"
# The desired spec the container was made from (`spec_label`), so that a recreate can say
# which field changed; env values are in it only as salted digests, never as written.
LABEL_SPEC = "play.spec"
OLD_SUFFIX = ".play-old"  # the previous container while its replacement proves healthy


@dataclass(frozen=True)
class Health:
    cmd: str
    interval: float
    timeout: float
    retries: int
    start_period: float

    @property
    def patience(self) -> float:
        """How long a new container may take to become healthy before we give up."""
        return self.start_period + (self.interval + self.timeout) * self.retries + 5.0


@dataclass(frozen=True)
class DesiredContainer:
    name: str
    image: str
    pull: str
    command: tuple[str, ...] | None
    entrypoint: tuple[str, ...] | None
    env: tuple[tuple[str, str], ...]
    ports: tuple[str, ...]
    volumes: tuple[str, ...]
    network: str | None
    restart: str | None
    labels: tuple[tuple[str, str], ...]
    health: Health | None
    user: str | None
    workdir: str | None
    cpus: str | None
    memory: str | None
    stop_timeout: int | None
    state: str
    play: str
    keep_images: int = 3   # images of its repository kept on the host after an update
    reload_signal: str | None = None  # sent on notify instead of a restart

    @functools.cached_property
    def canonical(self) -> dict[str, Any]:
        """Its fields by name, health as a dict: what `asdict` gives (the spec hash of
        every container already running depends on it), without its deep copy of every
        value, which cost ~0.2 ms of each container step."""
        canonical = {field.name: getattr(self, field.name) for field in fields(self)}
        if self.health is not None:
            canonical["health"] = asdict(self.health)
        return canonical

    @functools.cached_property
    def spec_hash(self) -> str:
        """Everything that needs a new container if it changes; `state` does not. The env
        values enter only through a slow salted digest (`env_digest`): the label (and any
        log of a docker command line) cannot be used to confirm a guessed secret cheaply."""
        canonical = dict(self.canonical)
        for setting in ("state", "pull", "keep_images", "reload_signal"):  # need no new one
            canonical.pop(setting)
        canonical["env"] = env_digest(self.name, self.env)
        text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def all_labels(self) -> dict[str, str]:
        return {**dict(self.labels), LABEL_MANAGED: "true", LABEL_NAME: self.name,
                LABEL_HASH: self.spec_hash, LABEL_PLAY: self.play,
                LABEL_SPEC: spec_label(self)}


# Fields as the playbook names them, in the order a recreate lists what changed
SPEC_FIELDS = {"image": "image", "command": "command", "entrypoint": "entrypoint",
               "env": "env", "ports": "ports", "volumes": "volumes", "network": "network",
               "restart": "restart", "labels": "labels", "health": "healthcheck",
               "user": "user", "workdir": "workdir", "cpus": "cpus", "memory": "memory",
               "stop_timeout": "stop_timeout", "play": "play"}


def spec_record(desired: DesiredContainer, with_env: bool = True) -> dict[str, Any]:
    """The label's content: the fields that make the spec hash, by their playbook names,
    empty ones left out (a label is stored on every container: compact), env as
    {name: salted digest of the value} (left out too when not `with_env`)."""
    canonical = desired.canonical
    record: dict[str, Any] = {}
    for field, name in SPEC_FIELDS.items():
        value = canonical[field]
        if field == "env" and not with_env:
            continue
        if field == "env":
            value = {key: env_value_digest(desired.name, key, text) for key, text in value}
        elif field == "labels":
            value = dict(value)
        if value not in (None, (), [], {}):
            record[name] = ({key: _compact(item) for key, item in value.items()}
                            if isinstance(value, dict) and field != "env" else _compact(value))
    return record


# A value longer than this as JSON is kept in the label as a digest (`{"sha256": ...}`): a
# label holds a copy of the spec, and the docker command line that sets it is limited
# (engine/connection/base.py MAX_COMMAND_LINE); a recreate then says only "changed".
SPEC_VALUE_MAX = 200


def _compact(value: Any) -> Any:
    if isinstance(value, tuple):
        value = list(value)
    text = json.dumps(value, sort_keys=True, separators=(",", ":"))
    if len(text) <= SPEC_VALUE_MAX:
        return value
    return {"sha256": hashlib.sha256(text.encode()).hexdigest()[:16]}


def spec_label(desired: DesiredContainer) -> str:
    return json.dumps(spec_record(desired), sort_keys=True, separators=(",", ":"))


@functools.lru_cache(maxsize=4096)
def env_value_digest(name: str, key: str, value: str) -> str:
    """scrypt of one env value, salted with the container's and the variable's names, as
    slow as `env_digest` (guessing a weak secret from the label stays expensive): it says
    whether the value changed, never what it is. Made only when a container is created
    and when a changed spec is explained."""
    salt = b"play.env-value:" + json.dumps([name, key]).encode()
    return hashlib.scrypt(value.encode("utf-8", "surrogateescape"), salt=salt,
                          n=2**14, r=8, p=1, dklen=8).hex()


@functools.lru_cache(maxsize=4096)
def env_digest(name: str, env: tuple[tuple[str, str], ...]) -> str:
    """scrypt (N=2**14, r=8: about 65 ms, once per distinct env in a run) of the env values,
    salted with the container's name. A plain hash of the spec would let anyone who sees
    the label test guesses of a weak secret at a billion a second."""
    if not env:
        return ""
    text = json.dumps(env, separators=(",", ":"))   # ASCII: \u escapes
    return hashlib.scrypt(text.encode(), salt=b"play.env:" + name.encode("utf-8", "replace"),
                          n=2**14, r=8, p=1, dklen=16).hex()


def env_file_text(desired: DesiredContainer) -> bytes:
    """The container's environment as `docker run --env-file` reads it: one NAME=VALUE
    line each, taken verbatim (see `env_file_problem` for what a line cannot hold)."""
    return "".join(f"{key}={value}\n" for key, value in desired.env).encode(
        "utf-8", "surrogateescape")


# The docker CLI reads an env file with Go's bufio.Scanner: a line (its newline included)
# must fit in 64 KiB, or it fails with "token too long".
ENV_LINE_MAX = 65535


def env_file_problem(desired: DesiredContainer) -> str | None:
    """Why this env cannot travel in an env file (the docker CLI splits it at newlines,
    drops a line's trailing CR, strips leading whitespace, skips `#` lines and imports a
    NAME without `=` from its own environment), or None."""
    for key, value in desired.env:
        problem = env_name_problem(key)
        if problem is not None:
            return problem
        if any(char in value for char in "\n\r\0"):
            return (f"the value of env {key[:40]!r} holds a line break or NUL: Docker's env "
                    "file holds one NAME=VALUE per line; put such a value in a file (copy or "
                    "template) and mount it")
        line = f"{key}={value}"
        size = len(line.encode("utf-8", "surrogateescape"))
        if size > ENV_LINE_MAX:
            return (f"env {key[:40]!r} is {size} bytes as NAME=VALUE; the docker CLI reads at "
                    f"most {ENV_LINE_MAX} per env file line: put the value in a file (copy or "
                    "template) and mount it")
    return None


def image_repository(reference: str) -> str:
    """`registry:5000/app:2` -> `registry:5000/app` (a digest reference keeps its name)."""
    name = reference.split("@", 1)[0]
    head, _, last = name.rpartition("/")
    return f"{head}/{last.split(':', 1)[0]}" if head else last.split(":", 1)[0]


def _words(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return tuple(shlex.split(value))
    return tuple(str(item) for item in value)


def _seconds(value: Any, default: float) -> float:
    return default if value is None else float(value)


def desired_container(name: str, spec: Mapping[str, Any], env_file_vars: Mapping[str, str],
                      play: str) -> DesiredContainer:
    """`spec` is the container's keys already rendered for the host (see ContainerSpec)."""
    health = spec.get("healthcheck")
    env = {**env_file_vars, **{key: _env_text(value) for key, value in spec["env"].items()}}
    return DesiredContainer(
        name=name, image=str(spec["image"]), pull=str(spec["pull"]),
        command=_words(spec.get("command")), entrypoint=_words(spec.get("entrypoint")),
        env=tuple(sorted(env.items())),
        ports=tuple(str(port) for port in spec.get("ports", ())),
        volumes=tuple(str(volume) for volume in spec.get("volumes", ())),
        network=_optional(spec.get("network")), restart=_optional(spec.get("restart")),
        labels=tuple(sorted((str(k), str(v)) for k, v in spec.get("labels", {}).items())),
        health=None if health is None else Health(
            cmd=health["cmd"] if isinstance(health["cmd"], str) else shlex.join(health["cmd"]),
            interval=_seconds(health.get("interval"), 30.0),
            timeout=_seconds(health.get("timeout"), 30.0),
            retries=int(health.get("retries") or 3),
            start_period=_seconds(health.get("start_period"), 0.0)),
        user=_optional(spec.get("user")), workdir=_optional(spec.get("workdir")),
        cpus=_optional(spec.get("cpus")), memory=_optional(spec.get("memory")),
        stop_timeout=None if spec.get("stop_timeout") is None else int(spec["stop_timeout"]),
        state=str(spec["state"]), play=play,
        keep_images=int(spec.get("keep_images") or 3),
        reload_signal=_optional(spec.get("reload_signal")))


def _env_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _optional(value: Any) -> str | None:
    return None if value is None else str(value)
