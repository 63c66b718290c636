"""CI's images, made at once: the local base image, and the Debian roots the integration tests
run on (the grid's ``bullseye`` target, docker-frozen's bookworm root). Each is mostly a
download from the Debian mirror, so three at a time take little longer than one; made one
after the other by the tests that need them, they cost several minutes of a CI job. What is
already in the engine is left as it is.

    python scripts/ci_images.py
"""

from __future__ import annotations

import concurrent.futures as cf
import subprocess
import sys
import time
from collections.abc import Callable

from packmatrix.container import frozenroot
from packmatrix.container.runengine import Engine
from packmatrix.grid import targets


def base_image() -> str:
    argv = [sys.executable, "-m", "packmatrix", "base-image", "--if-missing"]
    subprocess.run(argv, check=True)
    return "base image"


def grid_target() -> str:
    with Engine.connect("ci-images", timeout=600) as eng:
        targets.ensure(eng.client, ["bullseye"], log=print)
    return "grid target bullseye"


def frozen_root() -> str:
    with Engine.connect("ci-images", timeout=600) as eng:
        frozenroot.ensure_root(eng, "bookworm", log=print)
    return "docker-frozen's bookworm root"


def main() -> int:
    started = time.perf_counter()
    jobs: list[Callable[[], str]] = [base_image, grid_target, frozen_root]
    with cf.ThreadPoolExecutor(len(jobs)) as pool:
        for done in cf.as_completed([pool.submit(job) for job in jobs]):
            print(f"ready: {done.result()} ({time.perf_counter() - started:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
