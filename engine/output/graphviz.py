"""`play graph --format svg|png`: the dot text of output/graph.py laid out by Graphviz's
`dot` program, when it is installed (Debian: graphviz). The one place that runs it.
"""

from __future__ import annotations

import shutil
import subprocess

from engine.errors import InputError

IMAGE_FORMATS = ("svg", "png")


class GraphvizError(RuntimeError):
    """`dot` refused the graph: a bug in the dot we wrote, not a user mistake."""


def render_image(dot_text: str, image_format: str) -> bytes:
    """The graph as an SVG or PNG file's bytes; without `dot` on PATH, an `InputError`
    that says how to get it (or to use --format dot and render elsewhere)."""
    program = shutil.which("dot")
    if program is None:
        raise InputError(f"--format {image_format} needs Graphviz's `dot` program, which is "
                         "not on PATH; install Graphviz (Debian: apt-get install graphviz), "
                         "or use --format dot and render the file where Graphviz is", None)
    done = subprocess.run([program, f"-T{image_format}"], input=dot_text.encode(),
                          capture_output=True, check=False)
    if done.returncode != 0:
        raise GraphvizError(f"dot -T{image_format} failed: "
                            f"{done.stderr.decode(errors='replace').strip()}")
    return done.stdout
