"""The run report seen in a real browser: a run on the lab writes --report, Debian's headless
Chromium loads the page from disk, runs its script and takes a screenshot; the timeline
must show every host and every step, and the screenshot the timeline's colours."""

from __future__ import annotations

import shutil
import struct
import subprocess
import uuid
import zlib
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from lab_client import E2E_DATA, Lab, play, private_registry

IMAGE = "play-lab/busybox:latest"
SECRET = "rpt-5b8e-secret"
TASKS = ("task make dir", "task warm up", "task flaky on lab2", "task write config")
# the timeline's bar fills (engine/output/report_page/report.css), as RGB
CHANGED, IGNORED = (0xF7, 0xC5, 0x6B), (0xF3, 0xC1, 0xBF)


class _Bars(HTMLParser):
    """The timeline's lanes and bars in a DOM that its script has drawn."""

    def __init__(self) -> None:
        super().__init__()
        self.lanes: list[str] = []
        self.bars: list[tuple[str, str, str]] = []   # host, step, class
        self.rendered = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        classes = attributes.get("class", "").split()
        if tag == "div" and attributes.get("id") == "timeline":
            self.rendered = attributes.get("data-rendered") == "yes"
        elif tag == "g" and "lane" in classes:
            self.lanes.append(attributes["data-host"])
        elif tag == "g" and "bar" in classes:
            self.bars.append((attributes["data-host"], attributes["data-step"],
                              attributes["class"]))


def _chromium(*arguments: str, profile: Path) -> subprocess.CompletedProcess[str]:
    program = shutil.which("chromium")
    if program is None:
        pytest.fail("Debian's chromium is not installed (.ci/install installs it)",
                    pytrace=False)
    return subprocess.run([program, "--headless", "--no-sandbox", "--disable-gpu",
                           "--no-first-run", f"--user-data-dir={profile}",
                           "--window-size=1400,900", *arguments],
                          capture_output=True, text=True, timeout=60, check=False)


def _png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and rows of 8-bit RGB(A) pixels: PNG's five row filters undone with
    zlib and bytes only (no image library in the test dependencies)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    position, chunks, header = 8, [], b""
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        position += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6), (depth, colour)
    step = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * step
    rows: list[bytes] = []
    previous = bytearray(stride)
    for number in range(height):
        start = number * (stride + 1)
        kind, row = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = row[i - step] if i >= step else 0
            up = previous[i]
            if kind == 1:
                row[i] = (row[i] + left) & 255
            elif kind == 2:
                row[i] = (row[i] + up) & 255
            elif kind == 3:
                row[i] = (row[i] + (left + up) // 2) & 255
            elif kind == 4:
                corner = previous[i - step] if i >= step else 0
                guess = left + up - corner
                near = min((abs(guess - left), 0, left), (abs(guess - up), 1, up),
                           (abs(guess - corner), 2, corner))
                row[i] = (row[i] + near[2]) & 255
        rows.append(bytes(row) if step == 3 else
                    b"".join(bytes(row[i:i + 3]) for i in range(0, stride, 4)))
        previous = row
    return width, height, rows


@pytest.fixture
def report_run(lab: Lab, tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A run of report.yml with --report on the lab; yields the page and its prefix."""
    prefix = f"r{uuid.uuid4().hex[:6]}"
    inventory, _ = private_registry(lab, tmp_path)
    directory = f"/srv/e2e-{prefix}"
    page = tmp_path / "run.html"
    try:
        result = play(str(E2E_DATA / "report.yml"), "-i", str(inventory), "--diff",
                      "--report", str(page), "-e", f"p={prefix}", "-e", f"dir={directory}",
                      "-e", f"image={IMAGE}",
                      "-e", f"web_port={20000 + int(uuid.uuid4().hex[:4], 16) % 20000}",
                      timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        yield page, prefix
    finally:
        for host in lab.hosts:
            lab.sh(host, f"docker rm -f {prefix}-web >/dev/null 2>&1; "
                         f"sudo -n rm -rf {directory}")


def test_the_report_shows_every_host_and_step_in_a_real_browser(
        lab: Lab, tmp_path: Path, report_run: tuple[Path, str]) -> None:
    page, prefix = report_run
    html = page.read_text()
    assert SECRET not in html and "lab2 refused ********" in html
    assert f"{prefix}-web@lab1" in html.split('id="registry"')[1]   # records after the run

    dom = _chromium("--dump-dom", page.resolve().as_uri(), profile=tmp_path / "profile")
    assert dom.returncode == 0, dom.stderr
    bars = _Bars()
    bars.feed(dom.stdout)
    assert bars.rendered, "the timeline's script did not run"
    hosts = [host.name for host in lab.hosts]
    assert bars.lanes == hosts
    steps = (*TASKS, f"container {prefix}-web", f"service {prefix}-web")
    assert sorted((host, step) for host, step, _ in bars.bars) == sorted(
        (host, step) for host in hosts for step in steps)
    assert ("lab2", "task flaky on lab2", "bar status-ignored") in bars.bars

    screenshot = tmp_path / "run.png"
    shot = _chromium(f"--screenshot={screenshot}", page.resolve().as_uri(),
                     profile=tmp_path / "profile")
    assert shot.returncode == 0 and screenshot.is_file(), shot.stderr
    width, height, rows = _png_pixels(screenshot.read_bytes())
    assert (width, height) == (1400, 900)
    colours = {row[i:i + 3] for row in rows[::2] for i in range(0, len(row), 6)}
    assert len(colours) > 50, "the screenshot is (nearly) blank"
    assert bytes(CHANGED) in colours and bytes(IGNORED) in colours, \
        "the timeline's bars are not on the screenshot"
