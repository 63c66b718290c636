"""An independent stopwatch for packmatrix's startup figures.

Runs the matrix with ``--keep-workspace``, then starts every kept artifact again with an
independent clock (``time.monotonic_ns``, raw sockets, no packmatrix code), each start from spawn
to the first ``HTTP/1.x 200`` on the health path, in the launch environment the report records.

Two modes. The default alternates, per format, packmatrix's own clock
(``packmatrix.formats.launch``) with the stopwatch: on a shared machine startup drifts by tens of
percent over minutes, so only figures taken side by side compare the two clocks.
``--alternate-formats`` checks the report itself: the stopwatch starts the kept artifacts in turn
across formats (wheel, sdist, pex, pex-venv, onefile, onedir, then again; ``--runs`` rounds), so no
format gets a quiet or a busy stretch of its own and what one start leaves behind meets a different
format next, and each format's median is compared with the report's warm median. The report's
figures were taken minutes earlier: when every format moves the same way, the machine's load changed
between the two phases (the load average over each is printed). Either way the medians must agree
within 10 % or 20 ms (exit 1 otherwise), and the files left in an artifact's TMPDIR after the matrix
run and after each stopwatch start (a PyInstaller onefile's ``_MEI*`` extraction) are counted. Like
packmatrix, each artifact has one untimed start first and every timed start follows a flush of dirty
pages. ``--report FILE`` times the kept workspace of an earlier run instead.
Usage: ``nox -s benchmark -- [--alternate-formats] [--formats …] [--runs N] [--report FILE]``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from goals import print_goals

from packmatrix.formats import launch
from packmatrix.formats.registry import DEFAULT_FORMATS, FORMAT_NAMES
from packmatrix.model.results import Report

TOLERANCE = 0.10
"""Relative disagreement allowed between two medians..."""
FLOOR = 0.020
"""...or this many seconds, whichever is larger."""


@dataclass
class Target:
    """One kept artifact, started as the report says it was."""

    name: str
    argv: list[str]
    env: dict[str, str]
    place: Path
    reported: float
    samples: list[float] = field(default_factory=list)
    leftovers: int = 0
    """Most entries found in its TMPDIR after one of the stopwatch's starts."""
    after_run: int = 0
    """Entries in its TMPDIR as the matrix run left it."""
    disk_reads: list[int] = field(default_factory=list)
    """Bytes each start read from the disk (not the page cache) until it answered."""

    @property
    def tmp(self) -> Path | None:
        value = self.env.get("TMPDIR")
        return Path(value) if value else None

    def left_behind(self) -> int:
        """Entries in the artifact's TMPDIR while it is not running."""
        tmp = self.tmp
        return len(list(tmp.iterdir())) if tmp and tmp.is_dir() else 0


def first_200(port: int, path: str, proc: subprocess.Popen[bytes], deadline: float) -> bool:
    request = f"GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n".encode()
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(request)
                head = sock.recv(16)
            if head.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200")):
                return True
        except OSError:
            pass
        time.sleep(0.001)
    return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def time_start(target: Target, health: str) -> float:
    """One start timed by the stopwatch; the process group is ended as packmatrix ends it."""
    port = free_port()
    env = {**target.env, "HOST": "127.0.0.1", "PORT": str(port)}
    os.sync()
    start = time.monotonic_ns()
    proc = subprocess.Popen(
        target.argv, env=env, cwd=target.place, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    try:
        if not first_200(port, health, proc, time.monotonic() + 60):
            raise SystemExit(f"{target.argv[0]} never answered 200 on {health}")
        seconds = (time.monotonic_ns() - start) / 1e9
        target.disk_reads.append(read_bytes(proc.pid))
        return seconds
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        target.leftovers = max(target.leftovers, target.left_behind())


def read_bytes(group: int) -> int:
    """Bytes the processes of ``group`` have read from the storage layer: a "warm" start whose
    files were evicted from the page cache meanwhile shows here."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[2]) != group:
                continue
            for line in (stat.parent / "io").read_text().splitlines():
                if line.startswith("read_bytes:"):
                    total += int(line.split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total


def packmatrix_start(target: Target, health: str) -> float:
    """One start timed by packmatrix's own code, exactly as the matrix times warm starts."""
    os.sync()
    with launch.launch_process(
        target.argv, cwd=target.place, env=target.env, port=launch.free_port(),
        log=target.place / "benchmark.log",
    ) as running:  # fmt: skip
        seconds = launch.wait_healthy(running, health, timeout=60)
    target.leftovers = max(target.leftovers, target.left_behind())
    return seconds


def targets(doc: Report, workspace: Path) -> list[Target]:
    """Every local format that passed, in the matrix's order, with the report's launch."""
    found = []
    for entry in doc.formats:
        if not entry.passed or entry.name.startswith("docker") or entry.launch is None:
            continue
        place = workspace / "deploy" / entry.name
        env = {
            key: value.replace("<place>", str(place))
            for key, value in {**doc.launch_environment, **entry.launch.env_extra}.items()
        }
        argv = [arg.replace("<place>", str(place)) for arg in entry.launch.argv]
        warm = entry.figures.startup_warm
        target = Target(entry.name, argv, env, place, warm.median if warm else float("nan"))
        target.after_run = target.left_behind()
        found.append(target)
    order = {name: index for index, name in enumerate(FORMAT_NAMES)}
    return sorted(found, key=lambda target: order.get(target.name, len(order)))


def agree(one: float, other: float) -> bool:
    return abs(one - other) <= max(FLOOR, TOLERANCE * other)


def side_by_side(found: list[Target], runs: int, health: str) -> int:
    """Per format: packmatrix's clock and the stopwatch in turn; the two medians compared."""
    print(f"\nwarm startup, median of {runs} (spawn → first 200 on {health}), clocks alternating")
    print(
        f"{'format':<22}{'report':>9}{'packmatrix':>11}{'stopwatch':>11}{'delta':>9}"
        f"{'sw min':>9}{'sw max':>9}{'left':>6}   agree"
    )
    disagree = 0
    for target in found:
        time_start(target, health)  # one start to be warm, like packmatrix
        target.disk_reads.clear()
        theirs_samples = []
        for _ in range(runs):
            theirs_samples.append(packmatrix_start(target, health))
            target.samples.append(time_start(target, health))
        ours = statistics.median(target.samples)
        theirs = statistics.median(theirs_samples)
        ok = agree(theirs, ours)
        disagree += not ok
        print(
            f"{target.name:<22}{target.reported:>8.3f}s{theirs:>10.3f}s{ours:>10.3f}s"
            f"{(theirs - ours) * 1000:>+7.0f}ms{min(target.samples):>8.3f}s"
            f"{max(target.samples):>8.3f}s{target.after_run:>3}/{target.leftovers:<3}"
            f" {'yes' if ok else 'NO'}",
            flush=True,
        )
    return disagree


def across_formats(found: list[Target], rounds: int, health: str) -> int:
    """The stopwatch starts the formats in turn, ``rounds`` times; each median is compared
    with the report's warm median."""
    for target in found:
        time_start(target, health)  # one start to be warm, like packmatrix
        target.disk_reads.clear()
    for _ in range(rounds):
        for target in found:
            target.samples.append(time_start(target, health))
    print(
        f"\nwarm startup, median of {rounds} rounds across formats "
        f"({', '.join(target.name for target in found)}; spawn → first 200 on {health})"
    )
    print(
        f"{'format':<22}{'report':>9}{'stopwatch':>11}{'delta':>9}{'delta':>8}"
        f"{'sw min':>9}{'sw max':>9}{'disk':>8}{'left':>6}   agree"
    )
    disagree = 0
    for target in found:
        ours = statistics.median(target.samples)
        delta = target.reported - ours
        ok = agree(target.reported, ours)
        disagree += not ok
        print(
            f"{target.name:<22}{target.reported:>8.3f}s{ours:>10.3f}s{delta * 1000:>+7.0f}ms"
            f"{delta / ours:>+8.0%}{min(target.samples):>8.3f}s{max(target.samples):>8.3f}s"
            f"{statistics.median(target.disk_reads) / 1e6:>6.1f}MB"
            f"{target.after_run:>3}/{target.leftovers:<3} {'yes' if ok else 'NO'}"
        )
    return disagree


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    local = [name for name in DEFAULT_FORMATS if not name.startswith("docker")]
    parser.add_argument("--formats", default=",".join(local), help="default: every local format")
    parser.add_argument("--runs", type=int, default=7, help="starts (rounds) per format")
    parser.add_argument("--app", default="sample_app")
    parser.add_argument(
        "--alternate-formats", action="store_true",
        help="start the formats in turn and compare with the report's warm medians",
    )  # fmt: skip
    parser.add_argument(
        "--report", type=Path, metavar="FILE",
        help="a matrix.json run with --keep-workspace: time its workspace (left in place) "
        "instead of running the matrix",
    )  # fmt: skip
    args = parser.parse_args()
    if args.runs < 1:
        parser.error("--runs must be at least 1")

    reports = None
    loads: list[tuple[str, float, float]] = []
    if args.report is None:
        reports = Path(tempfile.mkdtemp(prefix="packmatrix-bench-"))
        run = [
            "packmatrix", "run", "--app", args.app, "--formats", args.formats,
            "--runs", str(args.runs), "--reports", str(reports), "--keep-workspace",
            "--targets", "none",
        ]  # fmt: skip
        before = os.getloadavg()[0]
        subprocess.run(run, check=False)
        loads.append(("the matrix run", before, os.getloadavg()[0]))
        source = reports / "matrix.json"
    else:
        source = args.report
    try:
        doc = Report.from_json(json.loads(source.read_text()))
    except (OSError, ValueError) as exc:
        raise SystemExit(f"cannot read the report {source}: {exc}") from None
    if doc.run.workspace is None or not Path(doc.run.workspace).is_dir():
        raise SystemExit(f"{source}: the run kept no workspace (run with --keep-workspace)")
    workspace = Path(doc.run.workspace)
    health = doc.app["health"]
    wanted = set(args.formats.split(","))
    found = [target for target in targets(doc, workspace) if target.name in wanted]
    before = os.getloadavg()[0]
    try:
        if args.alternate_formats:
            disagree = across_formats(found, args.runs, health)
        else:
            disagree = side_by_side(found, args.runs, health)
        loads.append(("the stopwatch", before, os.getloadavg()[0]))
    finally:
        if reports is not None:
            shutil.rmtree(workspace, ignore_errors=True)
            shutil.rmtree(reports, ignore_errors=True)
    for phase, start, end in loads:
        print(f"load average (1 min) over {phase}: {start:.1f} → {end:.1f}, {os.cpu_count()} CPUs")
    print("disk: median bytes a stopwatch start read from the disk, not the page cache")
    print(
        "left: entries in the artifact's TMPDIR after the matrix run / most after one of the "
        "stopwatch's starts (a onefile's _MEI* extraction left behind shows here)"
    )
    print_goals(doc)
    return 1 if disagree else 0


if __name__ == "__main__":
    sys.exit(main())
