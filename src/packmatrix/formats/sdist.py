"""sdist: ``python -m build --sdist``, then installed *from the sdist* into a fresh venv.

Installing from the sdist proves it really builds: every file the wheel needs must be in it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from packmatrix.context import Context
from packmatrix.formats.base import Built, Deployment
from packmatrix.formats.wheel import install_into_venv, venv_portability
from packmatrix.launch import LocalLaunch
from packmatrix.records import Portability


class SdistFormat(LocalLaunch):
    name = "sdist"
    title = "sdist built in a venv"

    def unavailable(self, ctx: Context) -> str | None:
        return None

    def build(self, ctx: Context) -> Built:
        out = ctx.out(self.name)
        argv = [sys.executable, "-m", "build", "--sdist", "--outdir", str(out), str(ctx.source)]
        with ctx.building_in_source():
            seconds = ctx.run(argv, what="python -m build --sdist", log=ctx.log_for(self.name))
        files: list[Path] = sorted(out.glob("*.tar.gz"))
        return Built(files=files, commands=[argv], seconds=seconds)

    def deploy(self, ctx: Context, built: Built) -> Deployment:
        return install_into_venv(ctx, self.name, str(built.files[0]))

    def inspect(self, ctx: Context, built: Built, deployment: Deployment) -> Portability:
        return venv_portability(ctx, deployment)
