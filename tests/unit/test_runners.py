"""The tuned invoke runner's pure parts: output decoding across chunks, stdin feeds, the
become marker, and what a become command line looks like."""

from __future__ import annotations

import threading

from engine.connection.base import (
    BECOME_MARKER,
    SUDO_PROMPT,
    command_line,
    without_become_chatter,
)
from engine.connection.runners import FastRemote, Feed, SeenMarker


def test_output_split_inside_a_character_decodes_whole() -> None:
    data = "héllo → wörld".encode()
    chunks = [data[:2], data[2:9], data[9:], b""]  # splits é and →
    runner = FastRemote.__new__(FastRemote)
    text = "".join(runner.read_proc_output(lambda size: chunks.pop(0)))
    assert text == "héllo → wörld"


def test_only_a_feed_that_waits_for_sudo_needs_a_thread() -> None:
    assert not Feed(b"content")
    assert Feed(b"", after=threading.Event())


def test_the_marker_watcher_fires_once_the_line_is_seen() -> None:
    seen = threading.Event()
    watcher = SeenMarker(BECOME_MARKER + "\n", seen)
    assert list(watcher.submit(SUDO_PROMPT)) == []
    assert not seen.is_set()
    watcher.submit(SUDO_PROMPT + BECOME_MARKER + "\nwarning: x\n")
    assert seen.is_set()


def test_sudo_chatter_is_taken_out_of_stderr_and_nothing_else() -> None:
    stderr = f"{SUDO_PROMPT}{BECOME_MARKER}\nreal error\n"
    assert without_become_chatter(stderr) == "real error\n"
    assert without_become_chatter("plain\n") == "plain\n"


def test_a_become_line_with_a_password_asks_with_the_runs_prompt_and_prints_the_marker(
        ) -> None:
    line = command_line(["cat", "a b"], become=True, become_password=True)
    assert line.startswith(f"sudo -S -p '{SUDO_PROMPT}' --preserve-env=DOCKER_HOST -- ")
    assert BECOME_MARKER in line and line.endswith(" cat 'a b'")
    assert command_line(["id"], become=True) == "sudo --preserve-env=DOCKER_HOST -n -- id"
    assert len(SUDO_PROMPT) > 20 and "'" not in SUDO_PROMPT
