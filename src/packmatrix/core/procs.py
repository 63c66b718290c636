"""Child processes that packmatrix starts, tracked by PID and always ended.

Every child gets its own session (process group), so ending it ends everything it spawned too
(a PyInstaller onefile binary is two processes; a pex re-executes itself). Nothing is ever
ended by name: only the groups recorded here.

POSIX only (Linux, macOS): sessions, ``killpg`` and ``pthread_sigmask`` have no Windows
equivalent here, so ``packmatrix run`` refuses Windows before any child is started
(``cli.refuse_unsupported_platform``).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from packmatrix.errors import StepFailed

_LIVE: dict[int, subprocess.Popen[bytes]] = {}


def spawn(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], log: Path
) -> subprocess.Popen[bytes]:
    """Start a tracked child in its own process group, stdout and stderr appended to ``log``.

    SIGINT and SIGTERM are held back between the spawn and the bookkeeping, so an interrupt can
    never leave a child that nobody knows about.
    """
    with log.open("ab") as out, _signals_held():
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_unblock_signals,  # the held-back mask must not be inherited
        )
        _LIVE[proc.pid] = proc
    return proc


_HELD = {signal.SIGINT, signal.SIGTERM}


def _unblock_signals() -> None:
    """In the child, before exec: a blocked signal mask survives exec, and an app that can't
    receive SIGTERM would only ever be killed."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, _HELD)


@contextlib.contextmanager
def _signals_held() -> Iterator[None]:
    held = _HELD
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def stop(proc: subprocess.Popen[bytes], *, grace: float = 5.0) -> None:
    """End the child's whole process group: SIGTERM, then SIGKILL after ``grace`` seconds.

    Interrupted while waiting (a second Ctrl-C), it kills the group at once before letting the
    interrupt through, and a child is only forgotten once it is gone.
    """
    try:
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                continue
            # The leader is gone; make sure nothing it forked lingers in its group.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            return
    except BaseException:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        raise
    finally:
        if proc.poll() is not None:
            _LIVE.pop(proc.pid, None)


def stop_all() -> None:
    """End every child still running: the last line of defence on Ctrl-C or SIGTERM."""
    for proc in list(_LIVE.values()):
        stop(proc, grace=2.0)


def live_pids() -> list[int]:
    return list(_LIVE)


@contextlib.contextmanager
def running(
    argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """A tracked child for the duration of a ``with`` block, ended on the way out."""
    proc = spawn(argv, cwd=cwd, env=env, log=log)
    try:
        yield proc
    finally:
        stop(proc)


def run(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    log: Path,
    timeout: float,
    what: str,
) -> float:
    """Run a build step to completion; return its wall time. Failure raises StepFailed."""
    with log.open("ab") as out:
        out.write(f"\n$ {' '.join(argv)}\n".encode())
    started = time.perf_counter()
    with running(argv, cwd=cwd, env=env, log=log) as proc:
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise StepFailed(
                f"{what} did not finish within {timeout:g} s", log_tail=tail(log)
            ) from None
    elapsed = time.perf_counter() - started
    if code != 0:
        raise StepFailed(f"{what} failed (exit code {code})", log_tail=tail(log))
    return elapsed


def tail(log: Path, lines: int = 25) -> str:
    """The last lines of a log, for a FAILED row."""
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])
