"""shiv: a zipapp of the app and its locked dependencies that extracts itself on first start.

Built ``--no-index`` from the run's wheelhouse, with the app's console script as its entry
point. Unlike a pex, a shiv never imports from the zip: its first start unpacks the whole
site-packages into ``~/.shiv/<name>_<build id>/`` and every later start reuses that folder. Each
launch gets a private ``SHIV_ROOT`` in its deployment folder, emptied before the cold start, so
the cold start pays the extraction and the warm ones do not.

Profiles: both build with shiv's defaults. ``--compile-pyc`` (compile every module while
extracting) was measured and left out: 9 warm starts in turn, 0.81 s without and 0.75 s with it
(within noise), then side by side in a whole run 0.44 → 0.45 s, for 0.4 MB more extraction and
a slower first start; the first start writes the bytecode of what it imports anyway. Both are
reproducible: shiv fixes every timestamp when ``SOURCE_DATE_EPOCH`` is set, as the build
environment always sets it.
"""

from __future__ import annotations

import json
import sys
from importlib import metadata
from pathlib import PurePosixPath

from packmatrix.core.context import Context
from packmatrix.errors import StepFailed
from packmatrix.formats.base import Built, Deployment
from packmatrix.formats.launch import LocalLaunch, deploy_zipapp
from packmatrix.model.records import Portability
from packmatrix.reading import portability
from packmatrix.reading.artifacts import open_artifact
from packmatrix.reading.fallbacks import optional_native


class ShivFormat(LocalLaunch):
    name = "shiv"
    title = "shiv (extracts on first start)"

    def unavailable(self, ctx: Context) -> str | None:
        if sys.platform == "win32":
            return "shiv's zipapp is started through its shebang line: not on Windows"
        try:
            metadata.version("shiv")
        except metadata.PackageNotFoundError:
            return "shiv is not installed next to packmatrix"
        return None

    def build(self, ctx: Context) -> Built:
        out = ctx.out(self.name) / f"{ctx.app.script}.pyz"
        argv = [
            sys.executable,
            "-m",
            "shiv",
            "--console-script",
            ctx.app.script,
            "--python",
            f"/usr/bin/env python{portability.python_minor(ctx.python)}",
            "--output-file",
            str(out),
            # What follows goes to pip: the locked wheels and the app's, nothing from an index.
            "--no-index",
            "--find-links",
            str(ctx.wheelhouse),
            *map(str, ctx.own_wheels),
        ]
        seconds = ctx.run(argv, what="shiv", log=ctx.log_for(self.name))
        return Built(files=[out], commands=[argv], seconds=seconds)

    def deploy(self, ctx: Context, built: Built) -> Deployment:
        return deploy_zipapp(ctx, self.name, built, cache_env="SHIV_ROOT", what="extraction")

    def inspect(self, ctx: Context, built: Built, deployment: Deployment) -> Portability:
        """Read from the zipapp: its shebang, ``environment.json`` and every dist-info of the
        site-packages it extracts (what the lock check compares), the GLIBC its shared
        libraries need, and which distributions' compiled modules are optional (shiv loads
        what it unpacked without checking wheel tags, so those fall back to pure Python)."""
        with open_artifact(built.files[0]) as artifact:
            shebang = artifact.preamble.split(b"\n", 1)[0].decode(errors="replace").strip()
            files = {m.name: m for m in artifact.members if m.kind == "file"}
            if "environment.json" not in files:
                raise StepFailed(f"{built.files[0].name} has no environment.json: not a shiv")
            environment = json.loads(files["environment.json"].read())
            dists = []
            for name, member in sorted(files.items()):
                path = PurePosixPath(name)
                if path.name == "METADATA" and path.parent.name.endswith(".dist-info"):
                    wheel = files.get(str(path.parent / "WHEEL"))
                    dists.append(
                        portability.dist_from_metadata(
                            member.read().decode("utf-8", errors="replace"),
                            wheel.read().decode("utf-8") if wheel else None,
                        )
                    )
            libraries = ((n, m.open()) for n, m in files.items() if n.endswith(".so"))
            floor = portability.glibc_floor_of(libraries)
            optional = optional_native({name: member.read for name, member in files.items()})
        if environment.get("entry_point") is None and not environment.get("script"):
            raise StepFailed(f"{built.files[0].name} names no entry point in environment.json")
        return Portability(
            needs=f"a Python interpreter on PATH ({shebang.removeprefix('#!')})",
            requires_python=ctx.app.requires_python,
            os_arch=portability.os_arch_of_dists(dists),
            platform_wheels=[d["wheel"] for d in dists if d["platform_specific"]],
            glibc_floor=floor,
            distributions=sorted(f"{d['name']}=={d['version']}" for d in dists),
            shebang=shebang,
            optional_native=[found.describe() for found in optional] or None,
        )
