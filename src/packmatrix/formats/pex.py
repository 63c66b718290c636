"""pex: one executable zip holding the app wheel and its locked dependencies.

Two rows: the default zipapp mode, and ``--venv`` mode, which unpacks once into a venv in the
pex cache. Each launch has a private ``PEX_ROOT``: empty for the cold start, populated after.
"""

from __future__ import annotations

import json
import shutil
import sys

from packmatrix import portability
from packmatrix.artifacts import open_artifact
from packmatrix.context import Context
from packmatrix.errors import StepFailed
from packmatrix.formats.base import Built, Deployment
from packmatrix.launch import LocalLaunch
from packmatrix.records import Portability


class PexFormat(LocalLaunch):
    def __init__(self, *, venv: bool) -> None:
        self.venv = venv
        self.name = "pex-venv" if venv else "pex"
        self.title = "pex --venv" if venv else "pex (zipapp)"

    def unavailable(self, ctx: Context) -> str | None:
        if sys.platform == "win32":
            return "pex does not run on Windows"
        return None

    def build(self, ctx: Context) -> Built:
        out = ctx.out(self.name) / f"{ctx.app.script}.pex"
        argv = [
            sys.executable,
            "-m",
            "pex",
            *map(str, ctx.own_wheels),
            "--no-pypi",
            "--find-links",
            str(ctx.wheelhouse),
            "--python",
            str(ctx.python),
            "--python-shebang",
            f"/usr/bin/env python{portability.python_minor(ctx.python)}",
            "--console-script",
            ctx.app.script,
            "--output-file",
            str(out),
        ]
        if self.venv:
            argv.append("--venv")
        seconds = ctx.run(argv, what="pex", log=ctx.log_for(self.name))
        return Built(files=[out], commands=[argv], seconds=seconds)

    def deploy(self, ctx: Context, built: Built) -> Deployment:
        place = ctx.place(self.name)
        target = place / built.files[0].name
        shutil.copy2(built.files[0], target)
        pex_root = place / "pex_root"
        return Deployment(
            place=place,
            argv=[str(target)],
            env=ctx.launch_env(place, {"PEX_ROOT": str(pex_root)}),
            caches=[pex_root],
            footprint=[pex_root],
            footprint_label="PEX_ROOT cache after the first start",
            commands=[["cp", str(built.files[0]), str(target)]],
            target=target,
        )

    def inspect(self, ctx: Context, built: Built, deployment: Deployment) -> Portability:
        with open_artifact(built.files[0]) as artifact:
            shebang = artifact.preamble.split(b"\n", 1)[0].decode(errors="replace").strip()
            found = next((m for m in artifact.members if m.name == "PEX-INFO"), None)
            if found is None:
                raise StepFailed(f"{built.files[0].name} has no PEX-INFO: it is not a pex")
            info = json.loads(found.read())
            libraries = (
                (member.name, member.open())
                for member in artifact.members
                if member.kind == "file" and member.name.endswith(".so")
            )
            floor = portability.glibc_floor_of(libraries)
        dists = [portability.dist_from_wheel_name(name) for name in info.get("distributions", {})]
        constraints = info.get("interpreter_constraints") or []
        return Portability(
            needs=f"a Python interpreter on PATH ({shebang.removeprefix('#!')})",
            requires_python=", ".join(constraints) or None,
            os_arch=portability.os_arch_of_dists(dists),
            platform_wheels=[d["wheel"] for d in dists if d["platform_specific"]],
            glibc_floor=floor,
            distributions=sorted({f"{d['name']}=={d['version']}" for d in dists}),
            shebang=shebang,
        )
