"""The run's shared preparation, the app wheel and the wheelhouse with its lock, reused from the
artifact cache when nothing it is made from changed: the app's source, the tool and Python
versions, the app's build requirements and the wheels downloaded so far (``pip wheel`` picks
from those). Every format needs the lock, so a rerun that reuses it starts measuring sooner.
"""

from __future__ import annotations

import json
import shutil
import sysconfig
import time
from collections.abc import Mapping
from pathlib import Path

from packmatrix.core.context import Context
from packmatrix.formats.base import Built
from packmatrix.steps import cache, cachekey

PRODUCTS = ("app_wheel", "wheelhouse")
REUSED = "the app wheel and the wheelhouse, reused from the artifact cache"
"""How the report's preparation names a reuse (its time is the copying)."""


def prepare_key(ctx: Context, tools: Mapping[str, str], part: str = "prepare") -> str:
    downloaded = sorted(path.name for path in ctx.cache.glob("*.whl"))
    return cachekey.KeyParts(
        format=part,
        options=json.dumps([ctx.app.name, list(ctx.app.build_requires), downloaded]),
        source=cachekey.run_source_digest(ctx),
        lock="",
        tools={**tools, "platform": sysconfig.get_platform()},
    ).key()


def restore(ctx: Context, tools: Mapping[str, str]) -> bool:
    """Put the cached app wheel and wheelhouse (and the build requirements' wheels) in place;
    False when the cache has none."""
    started = time.perf_counter()
    hit = cache.lookup(prepare_key(ctx, tools))
    if hit is None or not hit.built.files or not hit.built.commands:
        return False
    wheel, *house_files = hit.built.files
    dist = ctx.scratch("dist-wheel")
    dist.mkdir(parents=True, exist_ok=True)
    shutil.copy2(wheel, dist / wheel.name)
    house = _copied(house_files, ctx.workdir / "wheelhouse")
    ctx.provide("app_wheel", (dist / wheel.name, hit.built.seconds, hit.built.commands[0]))
    ctx.provide("wheelhouse", house)
    build_hit = cache.lookup(prepare_key(ctx, tools, "buildhouse"))
    if build_hit is not None:
        ctx.provide("buildhouse", _copied(build_hit.built.files, ctx.workdir / "buildhouse"))
    ctx.prepared_seconds[REUSED] = time.perf_counter() - started
    return True


def _copied(files: list[Path], house: Path) -> Path:
    house.mkdir(parents=True, exist_ok=True)
    for path in files:
        shutil.copy2(path, house / path.name)
    return house


def keep(ctx: Context, tools: Mapping[str, str]) -> None:
    """Store this run's app wheel and wheelhouse, and the build requirements' wheels, when it
    made them (an entry already stored stays as it is)."""
    key = prepare_key(ctx, tools)
    if all(ctx.made(product) for product in PRODUCTS) and not _kept(key):
        wheel, seconds, argv = ctx.app_wheel
        files = [wheel, *_files(ctx.wheelhouse)]
        built = Built(files=files, commands=[argv], seconds=seconds)
        shown = [ctx.shown(argv)]
        cache.store(key, built, run_id=ctx.run_id, commands=shown)
    key = prepare_key(ctx, tools, "buildhouse")
    if ctx.made("buildhouse") and not _kept(key):
        built = Built(files=_files(ctx.buildhouse), commands=[], seconds=0.0)
        cache.store(key, built, run_id=ctx.run_id, commands=[])


def _kept(key: str) -> bool:
    """Whether the cache holds ``key`` whole already (a restored preparation: copying it in
    again would only rewrite the same files)."""
    return cache.lookup(key) is not None


def _files(house: Path) -> list[Path]:
    return sorted(path for path in house.iterdir() if path.is_file())
