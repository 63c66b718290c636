"""The run's shared preparation, the app wheel and the wheelhouse with its lock, reused from the
artifact cache when nothing it is made from changed: the app's source, the tool and Python
versions, the app's build requirements and the wheels downloaded so far (``pip wheel`` picks
from those). Every format needs the lock, so a rerun that reuses it starts measuring sooner.
"""

from __future__ import annotations

import json
import shutil
import sysconfig
from collections.abc import Mapping

from packmatrix import cache
from packmatrix.context import Context
from packmatrix.formats.base import Built

PRODUCTS = ("app_wheel", "wheelhouse")


def prepare_key(ctx: Context, tools: Mapping[str, str]) -> str:
    downloaded = sorted(path.name for path in ctx.cache.glob("*.whl"))
    return cache.KeyParts(
        format="prepare",
        options=json.dumps([ctx.app.name, list(ctx.app.build_requires), downloaded]),
        source=cache.run_source_digest(ctx),
        lock="",
        tools={**tools, "platform": sysconfig.get_platform()},
    ).key()


def restore(ctx: Context, tools: Mapping[str, str]) -> bool:
    """Put the cached app wheel and wheelhouse in place; False when the cache has none."""
    hit = cache.lookup(prepare_key(ctx, tools))
    if hit is None or not hit.built.files or not hit.built.commands:
        return False
    wheel, *house_files = hit.built.files
    dist = ctx.scratch("dist-wheel")
    dist.mkdir(parents=True, exist_ok=True)
    house = ctx.workdir / "wheelhouse"
    house.mkdir(parents=True, exist_ok=True)
    shutil.copy2(wheel, dist / wheel.name)
    for path in house_files:
        shutil.copy2(path, house / path.name)
    ctx.provide("app_wheel", (dist / wheel.name, hit.built.seconds, hit.built.commands[0]))
    ctx.provide("wheelhouse", house)
    return True


def keep(ctx: Context, tools: Mapping[str, str]) -> None:
    """Store this run's app wheel and wheelhouse, when it made both."""
    if not all(ctx.made(key) for key in PRODUCTS):
        return
    wheel, seconds, argv = ctx.app_wheel
    house = ctx.wheelhouse
    files = [wheel, *sorted(path for path in house.iterdir() if path.is_file())]
    built = Built(files=files, commands=[argv], seconds=seconds)
    cache.store(prepare_key(ctx, tools), built, run_id=ctx.run_id, commands=[ctx.shown(argv)])
