"""Take the README's picture of the HTML report: docs/images/report.png from a real
reports/matrix.html, drawn by headless Chromium (Debian's ``chromium`` package).

    python scripts/screenshot.py                 # or: nox -s screenshot (after nox -s matrix)
    python scripts/screenshot.py --page site/index.html --out /tmp/site.png --height 1200

The page is drawn offline as a browser shows it (the report needs no network), at a fixed
window size, so a rerun after ``nox -s matrix`` replaces the picture with the new run's. Chromium
runs in its own process group, tracked by its PID and ended with everything it started, also on
Ctrl-C or a timeout. Any problem is one line and exit code 1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from packmatrix.core import procs
from packmatrix.errors import StepFailed

REPO = Path(__file__).resolve().parents[1]
WIDTH, HEIGHT = 1400, 1500
TIMEOUT = 120.0
PNG = b"\x89PNG\r\n\x1a\n"


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def screenshot(browser: str, page: Path, out: Path, *, width: int, height: int) -> None:
    """Draw ``page`` into ``out`` (PNG); raise StepFailed with Chromium's last lines on failure."""
    with tempfile.TemporaryDirectory(prefix="screenshot-") as scratch:
        work = Path(scratch)
        drawn = work / "page.png"
        argv = [
            browser,
            "--no-sandbox",
            "--headless",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            f"--user-data-dir={work / 'profile'}",
            f"--window-size={width},{height}",
            f"--screenshot={drawn}",
            page.resolve().as_uri(),
        ]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(work)}
        procs.run(
            argv, cwd=work, env=env, log=work / "chromium.log", timeout=TIMEOUT, what="chromium"
        )
        if not drawn.is_file() or not drawn.read_bytes().startswith(PNG):
            raise StepFailed(
                "chromium exited without writing a PNG", log_tail=procs.tail(work / "chromium.log")
            )
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(drawn, out)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # ends chromium's process group on the way out, as Ctrl-C does


def main(argv: Sequence[str]) -> int:
    signal.signal(signal.SIGTERM, _on_sigterm)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--page", type=Path, default=REPO / "reports" / "matrix.html")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images" / "report.png")
    parser.add_argument("--width", type=int, default=WIDTH)
    parser.add_argument("--height", type=int, default=HEIGHT)
    args = parser.parse_args(argv)
    if not args.page.is_file():
        print(f"screenshot: {args.page} does not exist: run `nox -s matrix` first", file=sys.stderr)
        return 1
    browser = chromium()
    if browser is None:
        print("screenshot: chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 1
    try:
        screenshot(browser, args.page, args.out, width=args.width, height=args.height)
    except StepFailed as exc:
        print(f"screenshot: {exc.reason}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # chromium's process group is already ended (procs.run)
        print("screenshot: interrupted", file=sys.stderr)
        return 130
    print(f"screenshot: {args.out} ({args.width}×{args.height}) from {args.page}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
