"""Children are started in their own group, can receive SIGTERM, and are ended by PID."""

from __future__ import annotations

import signal
import sys
import time
from pathlib import Path

import pytest

from packmatrix.core import procs

pytestmark = pytest.mark.integration

SLEEPER = [sys.executable, "-c", "import time; print('up', flush=True); time.sleep(60)"]


def signal_mask(pid: int, field: str) -> int:
    status = Path(f"/proc/{pid}/status").read_text(encoding="utf-8")
    line = next(line for line in status.splitlines() if line.startswith(field + ":"))
    return int(line.split()[1], 16)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
class TestChildren:
    def test_sigterm_reaches_the_child(self, tmp_path: Path) -> None:
        """No signal is blocked in the child, so stop() ends it with SIGTERM, not SIGKILL."""
        proc = procs.spawn(SLEEPER, cwd=tmp_path, env={}, log=tmp_path / "log")
        while "up" not in (tmp_path / "log").read_text(encoding="utf-8"):
            time.sleep(0.01)
        assert signal_mask(proc.pid, "SigBlk") & (1 << (signal.SIGTERM - 1)) == 0
        started = time.perf_counter()
        procs.stop(proc)
        assert proc.returncode == -signal.SIGTERM
        assert time.perf_counter() - started < 2
        assert proc.pid not in procs.live_pids()

    def test_own_process_group(self, tmp_path: Path) -> None:
        """Each child leads its own group: ending it can't touch anything else."""
        import os

        with procs.running(SLEEPER, cwd=tmp_path, env={}, log=tmp_path / "log") as proc:
            assert os.getpgid(proc.pid) == proc.pid != os.getpgid(0)
        assert proc.returncode is not None
