"""The kinds of the plan's edges: why an edge orders its two nodes."""

from __future__ import annotations

from typing import Literal

# Why an edge orders its two nodes (edge attribute "kind", for `play graph` only: the
# scheduler reads "hard"). needs: `after` also needs `before` to succeed (hard); order:
# only to finish (play order, a replicated dependency, the way into a run_once node);
# notify: a task restarts the container it notifies (hard); rescue: a block's rescue task
# runs only if the body failed; batch: a serial batch waits for the one before it. When two
# reasons give the same edge, the first of this list wins.
EdgeKind = Literal["notify", "needs", "rescue", "batch", "order"]
EDGE_KINDS: tuple[EdgeKind, ...] = ("notify", "needs", "rescue", "batch", "order")


def merge_edge_kinds(first: EdgeKind, second: EdgeKind, is_hard: bool) -> EdgeKind:
    """The kind of an edge that two reasons give: the first in EDGE_KINDS, but a hard edge
    is at least "needs" (an ordering that also needs success is drawn as needing it)."""
    kind = min(first, second, key=EDGE_KINDS.index)
    return "needs" if is_hard and kind in ("rescue", "batch", "order") else kind
