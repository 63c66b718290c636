"""CI's images, made at once: the local base image, and the systems the integration tests run
on (the grid targets of test_grid, test_grid_images, test_deb and test_pexmulti: ``bullseye``,
``bookworm``, ``bullseye-python``, ``trixie-python``, ``musl``; test_arm64's and
test_platform_images' ``bookworm-python-arm64`` where qemu-aarch64 is registered, the slowest of
them, since its second stage runs under emulation; docker-frozen's bookworm root).
Each is mostly a download from the Debian mirror, so several at a time take little longer than
one; made one after the other by the tests that need them, they cost several minutes of the
tests' time. What is already in the engine is left as it is.

    python scripts/ci_images.py
"""

from __future__ import annotations

import concurrent.futures as cf
import functools
import signal
import sys
import time
from collections.abc import Callable
from types import FrameType

from packmatrix.container import baseimage, frozenroot, localbase
from packmatrix.container.emulation import emulation_problem
from packmatrix.container.runengine import Engine
from packmatrix.core import procs
from packmatrix.grid import targets


def base_image() -> str:
    """``packmatrix base-image --if-missing``, in this process (its debootstrap is tracked), under
    the base image's lock like a run's own build (``localbase.build_once``)."""
    plan = localbase.requested(None, f"{sys.version_info.major}.{sys.version_info.minor}")
    client = baseimage.connect_docker()
    if baseimage.image_present(client, plan.tag):
        return f"base image {plan.tag}, already there"
    present = functools.partial(baseimage.image_present, client)
    return f"base image: {localbase.build_once(plan, present=present, log=print)}"


GRID_TARGETS = ("bullseye", "bookworm", "bullseye-python", "trixie-python", "musl") + (
    () if emulation_problem("arm64") else ("bookworm-python-arm64",)
)
"""Every built-in target a test runs on but ``bookworm-python`` (the base image, tagged)."""


def grid_targets() -> str:
    with Engine.connect("ci-images", timeout=600) as eng:
        ready = targets.ensure(
            eng.client, GRID_TARGETS, log=lambda name, line: print(f"{name}: {line}", flush=True)
        )
    if ready.failed:
        raise SystemExit(f"grid targets not made: {'; '.join(ready.failed.values())}")
    return f"grid targets {', '.join(GRID_TARGETS)}"


def frozen_root() -> str:
    with Engine.connect("ci-images", timeout=600) as eng:
        frozenroot.ensure_root(eng, "bookworm", log=print)
    return "docker-frozen's bookworm root"


def main() -> int:
    """Every job at once. SIGTERM (``.ci/run`` ends the script when lint fails first) ends
    their debootstraps by PID and exits 143."""
    started = time.perf_counter()
    jobs: list[Callable[[], str]] = [base_image, grid_targets, frozen_root]
    signal.signal(signal.SIGTERM, _terminated)
    pool = cf.ThreadPoolExecutor(len(jobs))
    try:
        for done in cf.as_completed([pool.submit(job) for job in jobs]):
            print(f"ready: {done.result()} ({time.perf_counter() - started:.0f} s)", flush=True)
    except (KeyboardInterrupt, SystemExit):
        pool.shutdown(wait=False, cancel_futures=True)
        procs.stop_all()
        raise
    pool.shutdown()
    return 0


def _terminated(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(143)


if __name__ == "__main__":
    sys.exit(main())
