"""`play graph PLAYBOOK`: print the plan (text, dot, json, svg, png); `--explain` reads
the candidate hosts and says where each replica would go.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from engine.commands.options import Parser, prepare_run, selection_options, unlock
from engine.errors import EXIT_OK
from engine.explain import explain_placements
from engine.output.graph import render_graph
from engine.output.graphviz import render_image


def make_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="play graph", description="print the plan of a playbook")
    parser.add_argument("playbook", help="the playbook to plan")
    selection_options(parser)
    parser.add_argument("--format", choices=("text", "dot", "json", "svg", "png"),
                        default="text", help="svg and png need Graphviz's dot (default: text)")
    parser.add_argument("--explain", action="store_true",
                        help="also read the candidate hosts over SSH and show where each "
                             "replica of a `replicas: N` container goes, and why")
    return parser


def main(argv: Sequence[str]) -> int:
    options = make_parser().parse_args(argv)
    unlock(options)
    run_options, prepared = prepare_run(options)
    placement = None
    if options.explain:
        placement = explain_placements(prepared, run_options)
    if options.format in ("svg", "png"):
        sys.stdout.flush()
        sys.stdout.buffer.write(render_image(render_graph(prepared.plan, "dot", placement),
                                             options.format))
        sys.stdout.buffer.flush()
        return EXIT_OK
    sys.stdout.write(render_graph(prepared.plan, options.format, placement))
    return EXIT_OK
