"""pex: one executable zip holding the app wheel and its locked dependencies.

Two rows: the default zipapp mode, and ``--venv`` mode, which unpacks once into a venv in the
pex cache. Each launch has a private ``PEX_ROOT``: empty for the cold start, populated after.
The tuned profile adds ``--sh-boot`` to both (see ``TUNED_ZIPAPP``).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from typing import Final

from packmatrix.core import profiles
from packmatrix.core.context import Context
from packmatrix.errors import StepFailed
from packmatrix.formats.base import Built, Deployment
from packmatrix.formats.launch import LocalLaunch, deploy_zipapp
from packmatrix.model.records import Portability
from packmatrix.reading import portability, wheeltags
from packmatrix.reading.artifacts import open_artifact

TUNED_ZIPAPP: Final = ("--sh-boot",)
TUNED_VENV: Final = ("--sh-boot",)
"""The tuned profile's options per row: ``--sh-boot`` makes the pex a ``/bin/sh`` script that,
once the pex is installed in its cache, starts it without pex's own Python bootstrap.

Measured on the sample app (2 shared cores under heavy load, 9 interleaved warm starts each,
medians): zipapp 2.60 s plain, 1.65 s ``--sh-boot``, 2.07 s ``--compile``, 1.64 s both;
``--venv`` 1.17 s, 0.80 s ``--sh-boot``, 1.02 s ``--compile``, 0.84 s both. ``--compile``
(bytecode precompiled into the pex) buys no warm start, since the first start writes the
bytecode into ``PEX_ROOT`` anyway, and it makes the pex 1.8× the size: left out."""
SH_BOOT_PYTHON: Final = re.compile(rb'^DEFAULT_PYTHON="([^"]+)"', re.MULTILINE)


class PexFormat(LocalLaunch):
    def __init__(self, *, venv: bool) -> None:
        self.venv = venv
        self.name = "pex-venv" if venv else "pex"
        self.title = "pex --venv" if venv else "pex (zipapp)"

    def unavailable(self, ctx: Context) -> str | None:
        if sys.platform == "win32":
            return "pex does not run on Windows"
        return None

    def profile_options(self, ctx: Context) -> list[str]:
        """tuned: see ``TUNED_ZIPAPP``. plain: pex's defaults."""
        if not profiles.tuned(ctx):
            return []
        return list(TUNED_VENV if self.venv else TUNED_ZIPAPP)

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
        argv += pip_bootstrap(ctx)
        argv += self.profile_options(ctx)
        seconds = ctx.run(argv, what="pex", log=ctx.log_for(self.name))
        return Built(files=[out], commands=[argv], seconds=seconds)

    def deploy(self, ctx: Context, built: Built) -> Deployment:
        return deploy_zipapp(ctx, self.name, built, cache_env="PEX_ROOT", what="cache")

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
        wheels = list(info.get("distributions", {}))
        dists = [portability.dist_from_wheel_name(name) for name in wheels]
        floor = wheeltags.higher_floor(floor, wheeltags.tag_floor(wheels))
        constraints = info.get("interpreter_constraints") or []
        return Portability(
            needs=f"a Python interpreter on PATH ({interpreter(shebang, artifact.preamble)})",
            requires_python=", ".join(constraints) or None,
            os_arch=portability.os_arch_of_dists(dists),
            platform_wheels=[d["wheel"] for d in dists if d["platform_specific"]],
            glibc_floor=floor,
            distributions=sorted({f"{d['name']}=={d['version']}" for d in dists}),
            shebang=shebang,
        )


def pip_bootstrap(ctx: Context) -> list[str]:
    """pex resolves with the pip it vendors up to Python 3.11; on a newer Python it bootstraps
    a pip release from wheels (pip, setuptools, wheel), which ``--no-pypi`` hides unless they
    are in a ``--find-links`` folder: their wheels are prepared like a build tool's, and the
    version is named so that the folder and pex agree."""
    found = ctx.once("pex-pip", pex_pip)
    if found is None:
        return []
    version, requirements = found
    house = ctx.toolhouse(*requirements)
    return ["--pip-version", version, "--find-links", str(house)]


_PEX_PIP: Final = """
import json
from pex.pip.version import PipVersion
default = PipVersion.DEFAULT
vendored = default is PipVersion.VENDORED
print(json.dumps(None if vendored else [str(default), [str(r) for r in default.requirements]]))
"""


def pex_pip() -> tuple[str, list[str]] | None:
    """The pip release pex builds with under this Python, and its requirements; None for the
    vendored one. Asked in a child: importing pex puts its vendored libraries (an old attrs…)
    ahead of packmatrix's own."""
    done = subprocess.run(
        [sys.executable, "-c", _PEX_PIP], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise StepFailed("asking pex for its pip version failed", log_tail=done.stderr)
    found = json.loads(done.stdout)
    return None if found is None else (str(found[0]), [str(r) for r in found[1]])


def interpreter(shebang: str, preamble: bytes) -> str:
    """The interpreter a pex starts with: its shebang's, or the one its ``--sh-boot`` script
    looks for first."""
    if shebang != "#!/bin/sh":
        return shebang.removeprefix("#!")
    found = SH_BOOT_PYTHON.search(preamble)
    return f"/bin/sh, then {found.group(1).decode()}" if found else "/bin/sh"
