"""The build phase: every format's build, concurrently (as many at once as there are cores),
each reused from the artifact cache when nothing it depends on changed.

No startup is timed while a build runs: the pipeline starts measuring only once every build is
done. An interrupt (Ctrl-C, SIGTERM) reaches the main thread, which cancels the builds not yet
started and ends the running ones' child processes (``procs.stop_all``) until every worker is
done, then lets the interrupt through.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from packmatrix.core import procs
from packmatrix.core.context import Context
from packmatrix.formats.base import Built, Format, KeptInEngine, build_weight, shared_key
from packmatrix.model.records import Commands
from packmatrix.steps import cache, cachekey

Progress = Callable[[str, str], None]
T = TypeVar("T")

INTERRUPT_GRACE: Final = 15.0
"""Seconds an interrupted run waits for its build threads (a docker build is not a child
process: it ends when the run's engine connection closes)."""
POLL: Final = 0.1


@dataclass(frozen=True, kw_only=True)
class Obtained:
    """A build, fresh or reused, and how the report describes it."""

    built: Built
    record: Commands


def obtain(fmt: Format, ctx: Context, tools: Mapping[str, str], progress: Progress) -> Obtained:
    """Build ``fmt``, or reuse its build from the artifact cache; a fresh build is stored."""
    if not ctx.options.artifact_cache:
        return fresh(fmt.build(ctx), ctx)
    key = cachekey.key_for(fmt, ctx, tools)
    hit = None if ctx.options.rebuild else cache.lookup(key)
    if hit is not None and not still_there(fmt, ctx, hit.built):
        hit = None  # the image is gone from the engine: build it again
    if hit is not None:
        progress(fmt.name, "reused from the artifact cache")
        ctx.provide(shared_key(fmt.name), hit.built)
        return Obtained(
            built=hit.built,
            record=Commands(
                commands=hit.built.commands,
                cached=True,
                original_seconds=round(hit.built.seconds, 3),
                cached_from=hit.run_id,
                cached_at=hit.built_at,
            ),
        )
    obtained = fresh(fmt.build(ctx), ctx)
    kept = obtained.built
    if kept.image is not None:
        if not isinstance(fmt, KeptInEngine):
            return obtained
        kept = fmt.keep(ctx, kept, cache.image_label(key))
    cache.store(key, kept, run_id=ctx.run_id, commands=obtained.record.commands)
    return Obtained(built=kept, record=obtained.record)


def still_there(fmt: Format, ctx: Context, built: Built) -> bool:
    """A cached build is whole: its files are (``cache.lookup``), and its image, if any."""
    if built.image is None:
        return True
    return isinstance(fmt, KeptInEngine) and fmt.reuse(ctx, built)


def fresh(built: Built, ctx: Context) -> Obtained:
    return Obtained(built=built, record=Commands(commands=[ctx.shown(a) for a in built.commands]))


def workers(count: int) -> int:
    """Builds at once: one per core, never more than there are builds."""
    return max(1, min(count, os.cpu_count() or 1))


def build_all(formats: Sequence[Format], build: Callable[[Format], T]) -> list[T]:
    """``build`` for every format, concurrently, heaviest first (``build_weight``), results in
    the formats' order.

    ``build`` records a format's failure in what it returns; an exception it lets through (an
    interrupt) is raised here once every build has stopped. One build runs on the main thread,
    as before builds were concurrent."""
    if workers(len(formats)) == 1:
        return [build(fmt) for fmt in formats]
    pool = cf.ThreadPoolExecutor(workers(len(formats)), thread_name_prefix="packmatrix-build")
    futures: dict[int, cf.Future[T]] = {}
    try:
        for index in start_order(formats):
            futures[index] = pool.submit(build, formats[index])
        while not all(future.done() for future in futures.values()):
            cf.wait(futures.values(), timeout=POLL)
    except BaseException:
        stop_builds(list(futures.values()))
        raise
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return [futures[index].result() for index in range(len(formats))]


def start_order(formats: Sequence[Format]) -> list[int]:
    """The formats' indexes, heaviest build first (ties: in the formats' order)."""
    return sorted(range(len(formats)), key=lambda index: -build_weight(formats[index]))


def stop_builds(futures: Sequence[cf.Future[Any]]) -> None:
    """Cancel the builds not started; end the children of the running ones until they stop."""
    for future in futures:
        future.cancel()
    deadline = time.monotonic() + INTERRUPT_GRACE
    while not all(future.done() for future in futures) and time.monotonic() < deadline:
        procs.stop_all()
        cf.wait(futures, timeout=POLL)
    procs.stop_all()
