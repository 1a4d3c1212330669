"""`--retry-file PATH`: after a run, the hosts that failed or were unreachable, for
`--limit @PATH` (Ansible's retry file).
"""

from __future__ import annotations

import contextlib
import os

from engine.results import Recap


def write_retry_file(path: str, recap: Recap) -> None:
    """The hosts that failed or were unreachable, one per line; a run where none did
    removes the file, so it never names hosts that are fine now."""
    hosts = sorted(host for host, counts in recap.counts.items()
                   if counts["failed"] or counts["unreachable"])
    if not hosts:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)
        return
    partial = f"{path}.play-tmp"
    with open(partial, "w", encoding="utf-8") as retry:
        retry.write("".join(f"{host}\n" for host in hosts))
    os.replace(partial, path)
