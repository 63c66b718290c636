"""An independent stopwatch for packmatrix's startup figures.

Runs the matrix with ``--keep-workspace``, then starts every kept artifact again, alternating
packmatrix's own clock (``packmatrix.launch``) with an independent one (``time.monotonic_ns``,
raw sockets, no packmatrix code), each from spawn to the first ``HTTP/1.x 200`` on the health
path. Alternating matters: on a shared machine startup drifts by tens of percent over minutes,
so only figures taken side by side can be compared. The two medians must agree within 10 % or
20 ms; the report's own median (taken minutes earlier) is printed too, with its drift.
Usage: ``nox -s benchmark -- [--formats …] [--runs N]``.
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
from pathlib import Path

from packmatrix import launch
from packmatrix.registry import FORMAT_NAMES
from packmatrix.results import Report


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


def time_start(argv: list[str], env: dict[str, str], cwd: str, health: str) -> float:
    port = free_port()
    env = {**env, "HOST": "127.0.0.1", "PORT": str(port)}
    start = time.monotonic_ns()
    proc = subprocess.Popen(
        argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    try:
        if not first_200(port, health, proc, time.monotonic() + 60):
            raise SystemExit(f"{argv[0]} never answered 200 on {health}")
        return (time.monotonic_ns() - start) / 1e9
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def packmatrix_start(argv: list[str], env: dict[str, str], place: Path, health: str) -> float:
    """One start timed by packmatrix's own code, exactly as the matrix times warm starts."""
    with launch.launch_process(
        argv, cwd=place, env=env, port=launch.free_port(), log=place / "benchmark.log"
    ) as running:
        return launch.wait_healthy(running, health, timeout=60)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    local = [name for name in FORMAT_NAMES if not name.startswith("docker")]
    parser.add_argument("--formats", default=",".join(local), help="default: every local format")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--app", default="sample_app")
    args = parser.parse_args()

    reports = Path(tempfile.mkdtemp(prefix="packmatrix-bench-"))
    run = [
        "packmatrix", "run", "--app", args.app, "--formats", args.formats,
        "--runs", str(args.runs), "--reports", str(reports), "--keep-workspace",
    ]  # fmt: skip
    subprocess.run(run, check=False)
    doc = Report.from_json(json.loads((reports / "matrix.json").read_text()))
    if doc.run.workspace is None:
        raise SystemExit("the run kept no workspace")
    workspace = Path(doc.run.workspace)
    health = doc.app["health"]
    rows = []
    disagree = 0
    try:
        for entry in doc.formats:
            if not entry.passed or entry.name.startswith("docker") or entry.launch is None:
                continue
            place = workspace / "deploy" / entry.name
            env = {
                key: value.replace("<place>", str(place))
                for key, value in {**doc.launch_environment, **entry.launch.env_extra}.items()
            }
            argv = [arg.replace("<place>", str(place)) for arg in entry.launch.argv]
            time_start(argv, env, str(place), health)  # one start to be warm, like packmatrix
            ours_samples, theirs_samples = [], []
            for _ in range(args.runs):
                theirs_samples.append(packmatrix_start(argv, env, place, health))
                ours_samples.append(time_start(argv, env, str(place), health))
            ours = statistics.median(ours_samples)
            theirs = statistics.median(theirs_samples)
            warm = entry.figures.startup_warm
            reported = warm.median if warm else float("nan")
            delta = theirs - ours
            ok = abs(delta) <= max(0.020, 0.10 * ours)
            disagree += not ok
            samples = ours_samples
            rows.append((entry.name, reported, theirs, ours, delta, min(samples), max(samples), ok))
    finally:
        shutil.rmtree(workspace, ignore_errors=True)
        shutil.rmtree(reports, ignore_errors=True)

    print(f"\nwarm startup, median of {args.runs} (spawn → first 200 on {health})")
    head = ("format", "report", "packmatrix", "stopwatch", "delta", "sw min", "sw max")
    print(
        f"{head[0]:<22}{head[1]:>9}{head[2]:>11}{head[3]:>11}{head[4]:>9}{head[5]:>9}{head[6]:>9}"
        "  agree"
    )
    for name, reported, theirs, ours, delta, low, high, ok in rows:
        print(
            f"{name:<22}{reported:>8.3f}s{theirs:>10.3f}s{ours:>10.3f}s{delta * 1000:>+7.0f}ms"
            f"{low:>8.3f}s{high:>8.3f}s  {'yes' if ok else 'NO'}"
        )
    return 1 if disagree else 0


if __name__ == "__main__":
    sys.exit(main())
