"""`docker_image`: an image present (pulled, imported or loaded from a local tarball) or
absent on a host. One `docker image inspect` reads; only a missing image (or `force`) is
fetched, and the fetch reports the resulting image id in the same command.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.actions.base import Action, ActionContext, ActionError, Change, Outcome
from engine.actions.catalog import CATALOG
from engine.actions.files import chained, run_checked

SOURCES = CATALOG["docker_image"].choices["source"]


@dataclass(frozen=True)
class DesiredImage:
    name: str
    state: str = "present"
    source: str = "pull"
    tarball: str | None = None
    force: bool = False


def compare_image(image_id: str | None, desired: DesiredImage) -> Change:
    """Pure: fetch a missing (or forced) image, or remove a present one."""
    if desired.state == "absent":
        return Change((f"remove image {desired.name}",) if image_id else ())
    if image_id is None:
        return Change((f"{desired.source} image {desired.name}",))
    if desired.force:
        return Change((f"{desired.source} image {desired.name} again (force)",))
    return Change()


def inspect_argv(name: str) -> list[str]:
    return ["docker", "image", "inspect", "--format", "{{.Id}}", "--", name]


def read_image_id(context: ActionContext, name: str) -> str | None:
    result = context.run(inspect_argv(name))
    if result.is_ok:
        return result.stdout.strip() or None
    if "no such image" in result.stderr.lower():
        return None
    raise ActionError(f"docker image inspect {name} failed: {result.stderr_tail()}")


def fetch_command(desired: DesiredImage) -> list[str]:
    """A command that fetches the image and prints its id on its last line."""
    fetch = {"pull": ["docker", "pull", "--quiet", "--", desired.name],
             "import": ["docker", "import", "--", "-", desired.name],
             "load": ["docker", "load", "--quiet"]}[desired.source]
    return chained([fetch, inspect_argv(desired.name)])


def tarball_path(desired: DesiredImage) -> Path | None:
    """The local tarball to import or load; checked before anything runs on the host."""
    if desired.source == "pull" or desired.state == "absent":
        return None
    if not desired.tarball:
        raise ActionError(f"source: {desired.source} needs tarball, a file on the control node")
    path = Path(desired.tarball)
    if not path.is_file():
        raise ActionError(f"tarball {path} is not a file on the control node")
    return path


def desired_from(args: Mapping[str, Any]) -> DesiredImage:
    state, source = str(args.get("state") or "present"), str(args.get("source") or "pull")
    if state not in CATALOG["docker_image"].choices["state"]:
        raise ActionError(f"state must be present or absent, not {state!r}")
    if source not in SOURCES:
        raise ActionError(f"source must be one of {', '.join(SOURCES)}, not {source!r}")
    name = str(args["name"])
    if not name or name.startswith("-"):
        raise ActionError(f"{name!r} is not an image name")
    tarball = args.get("tarball")
    return DesiredImage(name, state, source, None if tarball is None else str(tarball),
                        bool(args.get("force")))


def apply(context: ActionContext, desired: DesiredImage, summary: str) -> str | None:
    """Do it; the image id afterwards (None once removed)."""
    if desired.state == "absent":
        run_checked(context, ["docker", "image", "rm", "--", desired.name], summary)
        return None
    tarball = tarball_path(desired)
    # The whole tarball goes over the channel's stdin; docker reads it as a stream.
    stdin = tarball.read_bytes() if tarball is not None else None
    output = run_checked(context, fetch_command(desired), summary, stdin=stdin)
    return output.strip().splitlines()[-1] if output.strip() else None


def docker_image(args: Mapping[str, Any], context: ActionContext) -> Outcome:
    desired = desired_from(args)
    tarball_path(desired)  # a missing tarball fails even when the image is there already
    image_id = read_image_id(context, desired.name)
    change = compare_image(image_id, desired)
    if not change.is_needed:
        return Outcome(msg=f"image {desired.name} is already {desired.state}",
                       facts={"image_id": image_id})
    summary = "; ".join(change.what)
    if context.check:
        return Outcome(changed=True, msg=f"would {summary}", facts={"image_id": image_id})
    new_id = apply(context, desired, summary)
    # A forced fetch that brought back the very same image changed nothing.
    is_changed = new_id != image_id
    return Outcome(changed=is_changed, msg=summary if is_changed else
                   f"image {desired.name} is up to date", facts={"image_id": new_id})


ACTIONS: dict[str, Action] = {"docker_image": docker_image}
