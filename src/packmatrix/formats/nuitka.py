"""Nuitka: the app and its dependencies compiled to C and then by gcc into a standalone folder
that needs no Python on the target, started as the folder's executable.

Like PyInstaller it builds in a private venv holding exactly the locked wheels plus Nuitka
(``pyinstaller.tool_venv``), from the same launcher that calls the app's console-script entry
point. Nuitka follows import statements, so the app's own packages are included whole (every
submodule: ``--include-package``; every data file, templates and static files:
``--include-package-data``), with the app's ``hidden_imports`` and ``collect_packages`` and
every locked distribution's metadata (``--include-distribution-metadata``). The build needs gcc
and patchelf (Debian's ``gcc`` and ``patchelf``) and the build Python's headers (``Python.h``;
Debian's ``python3-dev`` for Debian's Python).

It compiles for minutes, so it is not in the default format set (``registry.SLOW_FORMATS``):
``--formats all`` or ``--formats nuitka`` runs it.

Compiled modules leave no trace in the folder of the wheel they came from, so the lock check
reads Nuitka's compilation report (``--report``, kept next to the folder, not in it): every
module it compiled in names its distribution, and the report lists their versions. A build
reused from the artifact cache has no report; its facts were read, and kept by the artifact's
sha256, when it was built.
"""

from __future__ import annotations

import email.parser
import shutil
import sysconfig
import zipfile
from importlib import metadata
from pathlib import Path
from xml.etree import ElementTree

from packmatrix.core.context import Context
from packmatrix.formats.base import Built, Deployment
from packmatrix.formats.launch import LocalLaunch
from packmatrix.formats.pyinstaller import app_packages, launcher_source, read_bundle, tool_venv
from packmatrix.model.records import Portability
from packmatrix.reading import portability
from packmatrix.reading.artifacts import iter_tree

REPORT = "compilation-report.xml"
"""Nuitka's report of what it compiled, next to the folder."""
DEBIAN_PACKAGES = {"gcc": "gcc", "patchelf": "patchelf"}
"""The tools Nuitka needs on Linux, and the Debian packages that have them."""


def nuitka_requirement() -> str:
    """The Nuitka packmatrix runs with, pinned for the build venv."""
    return f"nuitka=={metadata.version('nuitka')}"


class NuitkaFormat(LocalLaunch):
    name = "nuitka"
    title = "Nuitka standalone folder"
    build_weight = 100.0  # minutes of C compilation
    traces_imports = True

    def unavailable(self, ctx: Context) -> str | None:
        try:
            metadata.version("nuitka")
        except metadata.PackageNotFoundError:
            return "Nuitka is not installed next to packmatrix"
        missing = [tool for tool in DEBIAN_PACKAGES if shutil.which(tool) is None]
        if missing:
            packages = " ".join(DEBIAN_PACKAGES[tool] for tool in missing)
            return f"Nuitka needs {', '.join(missing)}: apt-get install {packages}"
        headers = Path(sysconfig.get_paths()["include"]) / "Python.h"
        if not headers.is_file():
            return (
                f"Nuitka needs the build Python's headers ({headers}): apt-get install python3-dev"
            )
        return None

    def build(self, ctx: Context) -> Built:
        python, prepare = ctx.once(
            "nuitka-venv", lambda: tool_venv(ctx, nuitka_requirement(), "Nuitka")
        )
        out = ctx.out(self.name)
        launcher = out / "launcher.py"
        launcher.write_text(launcher_source(ctx), encoding="utf-8")
        script = ctx.app.script
        argv = [
            str(python),
            "-m",
            "nuitka",
            "--standalone",
            f"--output-dir={out}",
            f"--output-folder-name={script}.dist",  # Nuitka adds .dist to any other name
            f"--output-filename={script}",
            "--no-progress-bar",
            "--quiet",
            f"--report={out / REPORT}",
            "--report-diffable",
            *self.bundle_options(ctx),
            str(launcher),
        ]
        seconds = ctx.run(argv, what="Nuitka", log=ctx.log_for(self.name), cwd=out)
        folder = out / script  # the folder as it is deployed: named like the executable
        (out / f"{script}.dist").rename(folder)
        return Built(
            files=list(iter_tree(folder)), commands=[*prepare, argv], seconds=seconds, folder=folder
        )

    def bundle_options(self, ctx: Context) -> list[str]:
        """What Nuitka must include beyond what import statements name: the app's packages
        whole with their data files, its hidden imports and extra packages, every locked
        distribution's metadata (the app reads its own version)."""
        options = []
        for package in [*app_packages(ctx), *ctx.app.collect_packages]:
            options += [f"--include-package={package}", f"--include-package-data={package}"]
        options += [f"--include-module={module}" for module in ctx.app.hidden_imports]
        names = [ctx.app.name, *(metadata_name(ctx, entry.filename) for entry in ctx.lock)]
        options += [f"--include-distribution-metadata={name}" for name in names]
        return options

    def deploy(self, ctx: Context, built: Built) -> Deployment:
        place = ctx.place(self.name)
        source = built.roots[0]
        target = place / source.name
        shutil.copytree(source, target, symlinks=True)
        return Deployment(
            place=place,
            argv=[str(target / ctx.app.script)],
            env=ctx.launch_env(place),
            footprint=[target],
            footprint_label="the folder",
            commands=[["cp", "-a", str(source), str(target)]],
            target=target,
        )

    def inspect(self, ctx: Context, built: Built, deployment: Deployment) -> Portability:
        if deployment.target is None:
            raise ValueError("a Nuitka deployment names its target")
        names, floor = read_bundle(deployment.target)
        executable = Path(deployment.argv[0])
        os_arch = portability.binary_os_arch(executable)
        return Portability(
            needs=f"no Python; {portability.system_words(os_arch)}",
            requires_python=None,
            os_arch=os_arch,
            platform_wheels=None,  # no wheels inside: the whole folder is platform-specific
            glibc_floor=floor,
            distributions=compiled_distributions(built.roots[0].parent / REPORT),
            extension_modules=sorted(n for n in names if ".cpython-" in n and n.endswith(".so")),
        )


def metadata_name(ctx: Context, filename: str) -> str:
    """A locked distribution's name as its metadata spells it (``Flask``, not ``flask``): what
    ``--include-distribution-metadata`` wants."""
    with zipfile.ZipFile(ctx.wheelhouse / filename) as wheel:
        for member in wheel.namelist():
            if member.count("/") == 1 and member.endswith(".dist-info/METADATA"):
                parsed = email.parser.HeaderParser().parsestr(wheel.read(member).decode())
                return str(parsed["Name"] or filename.split("-")[0])
    return filename.split("-")[0]


def compiled_distributions(report: Path) -> list[str] | None:
    """``name==version`` of every distribution a module compiled into the folder came from, as
    Nuitka's compilation report says; None without a report (nothing to read them from)."""
    try:
        root = ElementTree.parse(report).getroot()
    except (OSError, ElementTree.ParseError):
        return None
    used = {module.get("distribution") for module in root.iter("module")} - {None}
    versions = {dist.get("name"): dist.get("version") for dist in root.iter("distribution")}
    return sorted(f"{name}=={versions.get(name) or '?'}" for name in used if name)
