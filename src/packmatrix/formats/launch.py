"""Starting an artifact as a local process and waiting for it to become healthy."""

from __future__ import annotations

import contextlib
import http.client
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import psutil

from packmatrix.core import procs
from packmatrix.core.context import Context
from packmatrix.errors import StepFailed
from packmatrix.formats.base import Built, Deployment, Running
from packmatrix.model.records import PSS_OF_TREE, RSS_OF_TREE, MemoryUse

POLL_INTERVAL = 0.002  # seconds between health probes: well under the 5 ms the spec allows


class ProcessRunning:
    """A local process group started by packmatrix."""

    def __init__(self, proc: subprocess.Popen[bytes], *, port: int, started: float, log: Path):
        self.proc = proc
        self.host = "127.0.0.1"
        self.port = port
        self.started = started
        self.log = log

    def exited(self) -> str | None:
        code = self.proc.poll()
        if code is None:
            return None
        return f"exited with code {code} before answering"

    def memory(self) -> MemoryUse:
        """The PSS summed over the process tree: a page the processes share (a onefile's
        bootloader and the Python it unpacked and started) counts once, split between them.
        Where the OS reports no PSS (macOS, Windows) or won't show it, the RSS sum, said so."""
        try:
            root = psutil.Process(self.proc.pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return MemoryUse(bytes=0, processes=0, kind=PSS_OF_TREE)
        pss: int | None = 0
        rss = 0
        counted = 0
        for process in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                share, resident = _pss_and_rss(process)
                pss = None if pss is None or share is None else pss + share
                rss += resident
                counted += 1
        if pss is None:
            return MemoryUse(bytes=rss, processes=counted, kind=RSS_OF_TREE)
        return MemoryUse(bytes=pss, processes=counted, kind=PSS_OF_TREE)

    def output(self) -> str:
        return procs.tail(self.log)

    def listening(self) -> list[str]:
        """Every address:port the process tree listens on (the smoke server must be loopback)."""
        found: set[str] = set()
        try:
            root = psutil.Process(self.proc.pid)
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []
        for process in tree:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                for conn in process.net_connections(kind="inet"):
                    if conn.status == psutil.CONN_LISTEN and conn.laddr:
                        found.add(f"{conn.laddr.ip}:{conn.laddr.port}")
        return sorted(found)


def _pss_and_rss(process: psutil.Process) -> tuple[int | None, int]:
    """One process's PSS (None where the OS doesn't report it, or won't) and RSS."""
    try:
        full = process.memory_full_info()
    except psutil.AccessDenied:
        return None, int(process.memory_info().rss)
    share = getattr(full, "pss", None)
    return (int(share) if share is not None else None), int(full.rss)


@contextlib.contextmanager
def launch_process(
    argv: list[str], *, cwd: Path, env: Mapping[str, str], port: int, log: Path
) -> Iterator[ProcessRunning]:
    """Spawn ``argv`` with HOST/PORT set; the clock starts just before the spawn."""
    full_env = {**env, "HOST": "127.0.0.1", "PORT": str(port)}
    started = time.perf_counter()
    with procs.running(argv, cwd=cwd, env=full_env, log=log) as proc:
        yield ProcessRunning(proc, port=port, started=started, log=log)


def free_port() -> int:
    """A free TCP port on 127.0.0.1, chosen by the OS."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


DEFINITIVE = frozenset({404, 405, 410, 501})
"""Answers that say the health path is wrong, not that the app is still starting."""
DEFINITIVE_GRACE = 1.0
"""Seconds a definitive answer may persist before the start fails (a router still loading)."""


def wait_healthy(running: Running, path: str, *, timeout: float) -> float:
    """Poll ``path`` until it answers 200; return seconds since spawn.

    A refused connection is retried after 2 ms. An app that exits fails at once, one whose
    health path answers 404, 405, 410 or 501 fails within a second (the path is wrong, waiting won't
    help), and one that stays unhealthy past ``timeout`` fails then; each raises StepFailed
    with the tail of its output.
    """
    deadline = running.started + timeout
    last_problem = "no answer yet"
    definitive_since: float | None = None
    while True:
        now = time.perf_counter()
        if now > deadline:
            raise StepFailed(
                f"not healthy after {timeout:g} s ({last_problem})", log_tail=running.output()
            )
        conn = http.client.HTTPConnection(running.host, running.port, timeout=1.0)
        status = None
        try:
            conn.request("GET", path)
            status = conn.getresponse().status
            if status == 200:
                return time.perf_counter() - running.started
            last_problem = f"{path} answered {status}"
        except (OSError, http.client.HTTPException) as exc:
            last_problem = type(exc).__name__
        finally:
            conn.close()
        if status in DEFINITIVE:
            definitive_since = definitive_since or now
            if now - definitive_since >= DEFINITIVE_GRACE:
                raise StepFailed(
                    f"the health path {path} answers {status}: set [tool.packmatrix] health to "
                    "a path the app answers with 200",
                    log_tail=running.output(),
                )
        else:
            definitive_since = None
        reason = running.exited()
        if reason is not None:
            raise StepFailed(f"the app {reason}", log_tail=running.output())
        time.sleep(POLL_INTERVAL)


class LocalLaunch:
    """``launch`` for every format whose artifact is started as a local process."""

    name: str

    def launch(
        self, ctx: Context, deployment: Deployment, *, port: int
    ) -> contextlib.AbstractContextManager[Running]:
        return launch_process(
            deployment.argv,
            cwd=deployment.place,
            env=deployment.env,
            port=port,
            log=ctx.log_for(self.name),
        )


def deploy_zipapp(
    ctx: Context, name: str, built: Built, *, cache_env: str, what: str
) -> Deployment:
    """A self-extracting zipapp (a pex, a shiv) copied to a fresh folder, with a private cache
    root (``cache_env``) there: emptied before the cold start, its size the footprint."""
    place = ctx.place(name)
    target = place / built.files[0].name
    shutil.copy2(built.files[0], target)
    root = place / cache_env.lower()
    return Deployment(
        place=place,
        argv=[str(target)],
        env=ctx.launch_env(place, {cache_env: str(root)}),
        caches=[root],
        footprint=[root],
        footprint_label=f"{cache_env} {what} after the first start",
        commands=[["cp", str(built.files[0]), str(target)]],
        target=target,
    )
