"""The command runners under Fabric's `Connection.run`/`sudo` (and invoke's, for local
become): invoke's own, tuned for a deploy tool, installed through the `runners` config.

What changes against invoke's defaults, and why:
- the wait for the exit status blocks on the channel's (or process's) own event instead
  of polling every `input_sleep` (10 ms): invoke's poll cost 5-8 ms per command here;
- stdin is bytes handed over whole (a tarball, a file's content) and written as bytes:
  invoke decodes stdin as text, which breaks binary content;
- output is decoded with an incremental UTF-8 decoder: invoke decodes each 1000-byte
  chunk alone, which mangles a character split between two chunks;
- with a sudo password, the content waits until sudo has authenticated (a marker the
  command prints first), so sudo never reads the content as a password and the command
  never reads the password as content.
"""

from __future__ import annotations

import codecs
import subprocess
import threading
import time
from collections.abc import Callable, Generator, Iterable, Sequence
from typing import Any

from fabric.runners import Remote
from invoke.exceptions import AuthFailure, CommandTimedOut
from invoke.runners import Local, Result
from invoke.watchers import StreamWatcher

from engine.connection.base import (
    BECOME_MARKER,
    CommandResult,
    sudo_arguments,
    without_become_chatter,
)


class Feed:
    """A command's whole stdin; `after` (when set) is the event that must fire first."""

    def __init__(self, content: bytes, after: threading.Event | None = None) -> None:
        self.content = content
        self.after = after

    def __bool__(self) -> bool:
        # invoke starts a stdin thread only for a true in_stream: only a feed that must
        # wait needs one; the others are written as soon as the command starts
        return self.after is not None


class SeenMarker(StreamWatcher):
    """Sets an event once a line appears in the output (sudo has let the command run)."""

    def __init__(self, marker: str, seen: threading.Event) -> None:
        super().__init__()
        self.marker = marker
        self.seen = seen

    def submit(self, stream: str) -> Iterable[str]:
        if not self.seen.is_set() and self.marker in stream:
            self.seen.set()
        return []


class _Tuned:
    """What both runners share; mixed in before invoke's Runner."""

    read_chunk_size = 65536
    streams: dict[str, Any]
    watchers: list[Any]
    program_finished: threading.Event

    def _feed(self) -> Feed | None:
        feed = self.streams.get("in")
        return feed if isinstance(feed, Feed) else None

    def _write_bytes(self, data: bytes) -> None:
        raise NotImplementedError

    def close_proc_stdin(self) -> None:
        raise NotImplementedError

    def _feed_now(self) -> None:
        """Called once the command started: a feed that need not wait goes at once."""
        feed = self._feed()
        if feed is not None and feed.after is None:
            if feed.content:
                self._write_bytes(feed.content)
            self.close_proc_stdin()

    def handle_stdin(self, input_: Any, output: Any, echo: bool = False) -> None:
        feed = input_ if isinstance(input_, Feed) else None
        if feed is None or feed.after is None:
            return
        while not feed.after.wait(0.05):
            if self.program_finished.is_set():
                return  # sudo gave up (a wrong password): the command never ran
        if feed.content:
            self._write_bytes(feed.content)
        self.close_proc_stdin()

    def read_proc_output(self, reader: Callable[[int], bytes | None]
                         ) -> Generator[str, None, None]:
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        while True:
            data = reader(self.read_chunk_size)
            if not data:
                tail = decoder.decode(b"", final=True)
                if tail:
                    yield tail
                return
            text = decoder.decode(data)
            if text:
                yield text

    def respond(self, buffer_: list[str]) -> None:
        if self.watchers:  # invoke joins the whole buffer on every chunk, watchers or not
            super().respond(buffer_)  # type: ignore[misc]


class FastRemote(_Tuned, Remote):  # type: ignore[misc]
    """Fabric's `Remote` runner, tuned (see the module's docstring)."""

    def start(self, command: str, shell: str, env: dict[str, Any],
              timeout: int | None = None) -> None:
        super().start(command, shell, env, timeout=timeout)
        self._feed_now()

    def _write_bytes(self, data: bytes) -> None:
        self.channel.sendall(data)

    def close_proc_stdin(self) -> None:
        self.channel.shutdown_write()

    def wait(self) -> None:
        while not self.channel.status_event.wait(0.05):
            if self.has_dead_threads or self.channel.closed:
                return


class FastLocal(_Tuned, Local):
    """invoke's `Local` runner, tuned the same way (used for local become with a password)."""

    def start(self, command: str, shell: str, env: dict[str, Any]) -> None:
        super().start(command, shell, env)
        self._feed_now()

    def _write_bytes(self, data: bytes) -> None:
        self._write_proc_stdin(data)

    def close_proc_stdin(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()

    def wait(self) -> None:
        while True:
            try:
                self.process.wait(0.05)
                return
            except subprocess.TimeoutExpired:
                if self.has_dead_threads:
                    return


def sudo(context: Any, argv: Sequence[str], password: str, stdin: bytes | None,
         timeout: float | None, become_user: str | None = None) -> Result | None:
    """`context.sudo` (a fabric.Connection or an invoke.Context) of one command with the
    become protocol: the password answers sudo's prompt, the stdin waits for the marker."""
    authenticated = threading.Event()
    result: Result | None = context.sudo(
        sudo_arguments(argv, become_user), password=password, timeout=timeout,
        in_stream=Feed(stdin or b"", after=authenticated),
        watchers=[SeenMarker(BECOME_MARKER + "\n", authenticated)])
    return result


def command_result(line: str, timeout: float | None, refused: str,
                   call: Callable[[], Result | None],
                   on_no_status: Callable[[], None] | None = None) -> CommandResult:
    """Run `call` (a Connection's or Context's run/sudo) and say what happened as play's
    CommandResult: a timeout and a refused become password are results, not exceptions;
    `on_no_status` may raise when the command ended without an exit status."""
    started = time.monotonic()
    try:
        result = call()
    except CommandTimedOut as timed_out:
        return CommandResult(line, -1, timed_out.result.stdout,
                             f"{timed_out.result.stderr}timed out after {timeout} s",
                             time.monotonic() - started)
    except AuthFailure:
        return CommandResult(line, 1, "", refused, time.monotonic() - started)
    assert result is not None  # None only for a disowned command
    status = -1 if result.exited is None else result.exited
    if status == -1 and on_no_status is not None:
        on_no_status()
    return CommandResult(line, status, result.stdout, without_become_chatter(result.stderr),
                         time.monotonic() - started)
