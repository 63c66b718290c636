"""The HTML report in a real browser: headless Chromium lays it out and draws it, offline.

Needs ``chromium`` (Debian's package). Skipped without it, except on CI (``CI=true``), where a
missing browser is a failure. Every Chromium is started in its own session, tracked by its PID
and its whole process group ended when it is done or times out.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from packmatrix.model.results import Report
from packmatrix.report import render as report
from tests.unit.real_reports import sample

pytestmark = pytest.mark.integration

WIDTH, HEIGHT = 1400, 2000
TIMEOUT = 90.0


@pytest.fixture(name="chromium", scope="module")
def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None and Path("/usr/bin/chromium").exists():
        found = "/usr/bin/chromium"
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is not installed (needed on CI: apt-get install chromium)")
        pytest.skip("chromium is not installed")
    return found


@pytest.fixture(name="page")
def _page(tmp_path: Path) -> tuple[Report, Path]:
    """The real mixed report (passed, failed, skipped) saved the way a run saves it."""
    doc = Report.from_json(sample("mixed"))
    report.save(doc, tmp_path / "reports")
    return doc, tmp_path / "reports" / "matrix.html"


def run_chromium(chromium: str, profile: Path, *args: str) -> str:
    """Run one headless Chromium to completion; return its stdout. Always ends its processes."""
    argv = [
        chromium,
        "--no-sandbox",
        "--headless",
        "--disable-gpu",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        *args,
    ]
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, led by proc.pid
    )
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        _end_group(proc.pid)
        proc.communicate()
        pytest.fail(f"chromium did not finish in {TIMEOUT:.0f} s: {' '.join(argv)}")
    finally:
        _end_group(proc.pid)  # helpers (zygote, GPU) that outlived the browser
    if proc.returncode != 0:
        tail = err.decode(errors="replace")[-2000:]
        pytest.fail(f"chromium exited with {proc.returncode}: {tail}")
    return out.decode("utf-8", errors="replace")


def _end_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


# -- a tiny PNG decoder (8-bit RGB/RGBA, no interlace): enough to tell a drawn page from a blank one
def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and every pixel of a PNG, each as its raw RGB(A) bytes."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, chunks = 8, []
    width = height = channels = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or colour not in (2, 6) or interlace:
                raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour}")
            channels = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            chunks.append(body)
        elif kind == b"IEND":
            break
    raw = zlib.decompress(b"".join(chunks))
    stride = width * channels
    previous = bytearray(stride)
    pixels: list[bytes] = []
    for y in range(height):
        start = y * (stride + 1)
        line = _unfilter(
            raw[start], bytearray(raw[start + 1 : start + 1 + stride]), previous, channels
        )
        pixels += [bytes(line[x : x + channels]) for x in range(0, stride, channels)]
        previous = line
    return width, height, pixels


def _unfilter(kind: int, line: bytearray, prev: bytearray, bpp: int) -> bytearray:
    if kind == 1:  # Sub
        for i in range(bpp, len(line)):
            line[i] = (line[i] + line[i - bpp]) & 0xFF
    elif kind == 2:  # Up
        line = bytearray((a + b) & 0xFF for a, b in zip(line, prev, strict=True))
    elif kind == 3:  # Average
        for i in range(len(line)):
            left = line[i - bpp] if i >= bpp else 0
            line[i] = (line[i] + (left + prev[i]) // 2) & 0xFF
    elif kind == 4:  # Paeth
        for i in range(len(line)):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], (prev[i - bpp] if i >= bpp else 0)
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
    elif kind != 0:
        raise ValueError(f"bad PNG filter type {kind}")
    return line


class TestInChromium:
    def test_dom_has_every_row_and_bar(
        self, chromium: str, page: tuple[Report, Path], tmp_path: Path
    ) -> None:
        """After layout, the DOM holds one table row per format and one bar per figure."""
        doc, html = page
        dom = run_chromium(chromium, tmp_path / "profile", "--dump-dom", html.as_uri())
        rows = re.findall(r'<tr id="row-([^"]+)" data-format="([^"]+)"', dom)
        assert [name for name, _ in rows] == [fmt.name for fmt in doc.formats]
        measured = [fmt for fmt in doc.formats if fmt.figures.startup_cold]
        artifact = re.findall(r'<rect class="bar artifact_bytes" data-format="([^"]+)"', dom)
        assert artifact == [fmt.name for fmt in measured]
        warm = re.findall(r'<rect class="bar startup_warm" data-format="([^"]+)"', dom)
        assert warm == [fmt.name for fmt in measured if fmt.figures.startup_warm]
        assert "<script" not in dom

    def test_screenshot_is_drawn(
        self, chromium: str, page: tuple[Report, Path], tmp_path: Path
    ) -> None:
        """The page renders to a full-size PNG with text, badges and coloured bars in it."""
        _, html = page
        shot = tmp_path / "page.png"
        run_chromium(
            chromium,
            tmp_path / "profile",
            f"--screenshot={shot}",
            f"--window-size={WIDTH},{HEIGHT}",
            html.as_uri(),
        )
        width, height, pixels = png_pixels(shot.read_bytes())
        assert (width, height) == (WIDTH, HEIGHT)
        colours: dict[bytes, int] = {}
        for pixel in pixels:
            colours[pixel] = colours.get(pixel, 0) + 1
        assert len(colours) > 200, "a blank or nearly blank page"
        assert max(colours.values()) < 0.9 * len(pixels), "one colour covers almost everything"
        bar_blue = bytes((0x4C, 0x78, 0xA8))  # the artifact bars
        assert colours.get(bar_blue, 0) + colours.get(bar_blue + b"\xff", 0) > 1000
