"""PyInstaller: a frozen binary that needs no Python on the target, as one file or one folder.

The binary is built in a private venv holding exactly the locked wheels plus PyInstaller, from a
tiny launcher that calls the app's console-script entry point. PyInstaller bundles only what
import statements name, so the app's own packages are shipped whole: every submodule
(``--collect-submodules``: a plugin imported by name at request time), every data file
(``--collect-data``: templates, static files) and the app's metadata (``--copy-metadata``).
Without them a frozen app still answers its health check but fails on the pages that need them
(see the broken-artifact tests). The app's ``[tool.packmatrix]`` adds ``hidden_imports`` and
``collect_packages`` for third-party code that loads modules by name.

The lock check reads what was bundled, not the copied metadata: every module in the PYZ and
every extension module is traced to the wheel it came from (:mod:`packmatrix.reading.bundled`).
"""

from __future__ import annotations

import configparser
import itertools
import json
import shutil
import zipfile
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Final

from packmatrix.core import profiles
from packmatrix.core.context import Context
from packmatrix.errors import StepFailed
from packmatrix.formats.base import Built, Deployment, shared_key
from packmatrix.formats.launch import LocalLaunch
from packmatrix.model.facts import Stripping
from packmatrix.model.records import GlibcFloor, Portability
from packmatrix.reading import bundled, elfstrip, portability
from packmatrix.reading.artifacts import Member, iter_tree, open_artifact

STRIP_VERIFIED: Final = "strip+verify"
"""The tuned profile's word for stripping each binary, proven to load (``elfstrip``)."""
SPEC_HOOK: Final = """
# packmatrix (tuned profile): strip the collected binaries one by one; a stripped copy is used
# only where the dynamic loader maps it, and vendored libraries are left alone.
import sys as _packmatrix_sys
_packmatrix_sys.path.insert(0, {folder!r})
import packmatrix_elfstrip
a.binaries = packmatrix_elfstrip.strip_collected(a.binaries, {work!r}, {manifest!r})
"""
LOADED_BY_NAME: Final = {
    "tzdata": "zoneinfo imports it by name where the system has no time-zone database",
}
"""Locked packages the standard library imports by name only, which PyInstaller's analysis never
sees; bundled whole when the lock holds them (a minimal root, docker-frozen's, has no
/usr/share/zoneinfo: pandas' time zones fail there without tzdata)."""
SPEC_ANCHOR: Final = "\npyz = PYZ("
"""Where the strip step goes in a spec: between the analysis and the bundle's assembly."""
OPTIMIZE: Final = "1"
"""The tuned profile's bytecode optimization level (see ``profile_options``)."""
BUILD_TOOL_MODULES: Final = {
    "setuptools": ("setuptools", "pkg_resources", "_distutils_hack", "distutils"),
    "packaging": ("packaging",),
}
"""Build tools of the build venv that PyInstaller's hooks bundle, by distribution, with the
modules the tuned profile excludes when the lock does not hold the distribution."""


class PyInstallerFormat(LocalLaunch):
    traces_imports = True

    def __init__(
        self, *, onefile: bool, collect_data: bool = True, collect_submodules: bool = True
    ) -> None:
        """``collect_data`` and ``collect_submodules`` are switched off only by the tests of a
        broken artifact."""
        self.onefile = onefile
        self.collect_data = collect_data
        self.collect_submodules = collect_submodules
        self.name = "pyinstaller-onefile" if onefile else "pyinstaller-onedir"
        self.title = "PyInstaller one file" if onefile else "PyInstaller one folder"

    @property
    def build_weight(self) -> float:
        """A onefile is a onedir, then packed (not a constructor option: not in the cache key)."""
        return 5.0 if self.onefile else 3.0

    def unavailable(self, ctx: Context) -> str | None:
        try:
            metadata.version("pyinstaller")
        except metadata.PackageNotFoundError:
            return "PyInstaller is not installed next to packmatrix"
        return None

    def build(self, ctx: Context) -> Built:
        if self.onefile or not (self.collect_data and self.collect_submodules):
            return self.build_now(ctx)
        return onedir_build(ctx)

    def build_now(self, ctx: Context) -> Built:
        python, prepare = build_venv(ctx)
        out = ctx.out(self.name)
        launcher = out / "launcher.py"
        launcher.write_text(launcher_source(ctx), encoding="utf-8")
        analysis = [
            str(launcher),
            "--name",
            ctx.app.script,
            "--onefile" if self.onefile else "--onedir",
            "--specpath",
            str(out),
            *self.bundle_options(ctx),
            *self.tool_options(ctx),
        ]
        # A cache of its own: PyInstaller keeps the binaries it processes in its cache folder,
        # and two builds at once (onefile and onedir) sharing ~/.cache/pyinstaller (which
        # --clean empties) read each other's half-written index.
        env = ctx.build_env({"PYINSTALLER_CONFIG_DIR": str(out / "pyinstaller-cache")})
        log = ctx.log_for(self.name)
        commands = [*prepare]
        seconds = 0.0
        manifest = out / "stripping.json"
        if profiles.tuned(ctx):  # a spec file that strips each binary, proven to load
            spec_argv = [str(python), "-m", "PyInstaller.utils.cliutils.makespec", *analysis]
            seconds += ctx.run(spec_argv, what="pyi-makespec", log=log, env=env, cwd=out)
            commands.append(spec_argv)
            analysis = [str(stripping_spec(out / f"{ctx.app.script}.spec", out, manifest))]
        argv = [
            str(python),
            "-m",
            "PyInstaller",
            *analysis,
            "--distpath",
            str(out / "dist"),
            "--workpath",
            str(out / "work"),
            "--noconfirm",
            "--clean",
            "--log-level",
            "WARN",
        ]
        seconds += ctx.run(argv, what="PyInstaller", log=log, env=env, cwd=out)
        commands.append(argv)
        stripping = read_stripping(manifest) if profiles.tuned(ctx) else None
        bundle = out / "dist" / ctx.app.script
        if self.onefile:
            return Built(files=[bundle], commands=commands, seconds=seconds, stripping=stripping)
        return Built(
            files=list(iter_tree(bundle)),
            commands=commands,
            seconds=seconds,
            folder=bundle,
            stripping=stripping,
        )

    def profile_options(self, ctx: Context) -> list[str]:
        """tuned: ``strip+verify`` (see :mod:`packmatrix.reading.elfstrip`: the symbol tables of the
        bundled shared libraries go, a onefile halves and has less to unpack on every start,
        but only where the dynamic loader still maps the stripped copy, and never from a
        library a wheel vendored), then the tool options (``tool_options``). plain: none."""
        if not profiles.tuned(ctx):
            return []
        return [STRIP_VERIFIED, *self.tool_options(ctx)]

    def tool_options(self, ctx: Context) -> list[str]:
        """tuned: ``--optimize 1`` (bytecode as by ``python -O``: asserts gone; 2 would also
        drop docstrings, which some packages read) and an ``--exclude-module`` for each build
        tool PyInstaller's hooks pull in that the lock does not hold (setuptools, packaging:
        1.4 MB of a onefile; the venv formats don't ship them either). Not PyInstaller's own
        ``--strip``: it rewrites auditwheel-vendored libraries that the loader then refuses."""
        if not profiles.tuned(ctx):
            return []
        shipped = {entry.name for entry in ctx.lock} | ctx.own_names
        excluded = [
            module
            for distribution, modules in BUILD_TOOL_MODULES.items()
            if distribution not in shipped
            for module in modules
        ]
        return [
            "--optimize",
            OPTIMIZE,
            *itertools.chain.from_iterable(("--exclude-module", module) for module in excluded),
        ]

    def bundle_options(self, ctx: Context) -> list[str]:
        """What PyInstaller must bundle beyond what import statements name: the app's packages
        whole, its hidden imports and extra packages, every locked distribution's metadata."""
        options = []
        for package in app_packages(ctx):
            if self.collect_submodules:
                options += ["--collect-submodules", package]
            if self.collect_data:
                options += ["--collect-data", package]
        for module in ctx.app.hidden_imports:
            options += ["--hidden-import", module]
        locked = {entry.name for entry in ctx.lock}
        extra = [*ctx.app.collect_packages, *sorted(LOADED_BY_NAME.keys() & locked)]
        for package in dict.fromkeys(extra):
            options += ["--collect-all", package]
        # Metadata too: importlib.metadata works frozen (the app reads its own version).
        for name in [ctx.app.name, *(entry.name for entry in ctx.lock)]:
            options += ["--copy-metadata", name]
        return options

    def deploy(self, ctx: Context, built: Built) -> Deployment:
        place = ctx.place(self.name)
        source = built.roots[0]
        target = place / source.name
        if self.onefile:
            shutil.copy2(source, target)
            executable = target
        else:
            shutil.copytree(source, target, symlinks=True)
            executable = target / ctx.app.script
        env = ctx.launch_env(place)
        extraction = Path(env["TMPDIR"])
        return Deployment(
            place=place,
            argv=[str(executable)],
            env=env,
            caches=[extraction],
            footprint=[extraction] if self.onefile else [target],
            footprint_label=(
                "files unpacked to $TMPDIR on every start, removed at exit"
                if self.onefile
                else "the folder"
            ),
            commands=[["cp", "-a", str(source), str(target)]],
            target=target,
        )

    def inspect(self, ctx: Context, built: Built, deployment: Deployment) -> Portability:
        if deployment.target is None:
            raise ValueError("a PyInstaller deployment names its target")
        names, floor = read_bundle(deployment.target)
        executable = Path(deployment.argv[0])
        own = [bundled.read_wheel(path) for path in ctx.own_wheels]
        locked = [bundled.read_wheel(ctx.wheelhouse / entry.filename) for entry in ctx.lock]
        tools = [bundled.read_wheel(path) for path in sorted(toolhouse(ctx).glob("*.whl"))]
        ours = {wheel.name for wheel in [*own, *locked]}
        tools = [wheel for wheel in tools if wheel.name not in ours]
        modules = bundled.pyz_modules(executable)
        traced = bundled.trace(modules, bundled.extension_files(names), [*own, *locked, *tools])
        os_arch = portability.binary_os_arch(executable)
        return Portability(
            needs=f"no Python; {portability.system_words(os_arch)}",
            requires_python=None,
            os_arch=os_arch,
            macos_floor=portability.macos_floor_text(executable),
            platform_wheels=None,  # no wheels inside: the whole binary is platform-specific
            glibc_floor=floor,
            distributions=traced.pins([*own, *locked]),
            extension_modules=sorted(n for n in names if ".cpython-" in n and n.endswith(".so")),
            build_tools=[*traced.pins(tools), *traced.unknown],
        )


def onedir_build(ctx: Context) -> Built:
    """The onedir, built once per run: the pyinstaller-onedir row and the docker-frozen image
    share it (reused from the artifact cache when the onedir row was: ``builds.obtain``)."""
    fmt = PyInstallerFormat(onefile=False)
    return ctx.once(shared_key(fmt.name), lambda: fmt.build_now(ctx))


def read_bundle(target: Path) -> tuple[list[str], GlibcFloor]:
    """The files a bundle holds (a onefile's TOC, a onedir's tree) and the GLIBC it needs.

    A onedir's floor is read from every file in it; a onefile's from the binary itself and the
    shared libraries in its TOC."""
    with open_artifact(target) as artifact:
        files = [m for m in artifact.members if m.parent is None and m.kind == "file"]
        onefile = artifact.kind != "folder"
        libs = [m for m in files if is_shared_lib(m)] if onefile else files
        blobs = ((PurePosixPath(m.name).name, m.open()) for m in libs)
        binary = [(target.name, target.open("rb"))] if onefile else []
        floor = portability.glibc_floor_of(itertools.chain(binary, blobs))
    return [member.name for member in files], floor


def is_shared_lib(member: Member) -> bool:
    """A shared library, by its name (``libssl.so.3``, ``_ssl.cpython-311-….so``)."""
    return member.name.endswith(".so") or ".so." in member.name


def build_venv(ctx: Context) -> tuple[Path, list[list[str]]]:
    """A venv with the locked wheels and PyInstaller, shared by both PyInstaller rows."""
    return ctx.once(
        "pyinstaller-venv", lambda: tool_venv(ctx, pyinstaller_requirement(), "PyInstaller")
    )


def tool_venv(ctx: Context, requirement: str, tool: str) -> tuple[Path, list[list[str]]]:
    """A private build venv: the app, exactly the locked wheels, and the build tool pinned by
    ``requirement`` with what it needs, all installed offline; its python and the commands."""
    log = ctx.log_for("prepare")
    tools = ctx.toolhouse(requirement)
    name = requirement.split("=")[0]
    python, venv_argv, _ = ctx.make_venv(ctx.scratch(f"{name}-venv"), log=log)
    install = ctx.pip(
        "--python",
        str(python),
        "install",
        "--no-index",
        "--find-links",
        str(ctx.wheelhouse),
        "--find-links",
        str(tools),
        *map(str, ctx.own_wheels),
        requirement,
    )
    ctx.prepared_seconds[f"{tool} build venv"] = ctx.run(
        install, what=f"installing the app and {tool} into the build venv", log=log
    )
    return python, [venv_argv, install]


def pyinstaller_requirement() -> str:
    """The PyInstaller packmatrix runs with, pinned for the build venv."""
    return f"pyinstaller=={metadata.version('pyinstaller')}"


def toolhouse(ctx: Context) -> Path:
    """The wheels of PyInstaller and what it needs (the build tools of the build venv)."""
    return ctx.toolhouse(pyinstaller_requirement())


def app_packages(ctx: Context) -> list[str]:
    """The app's import packages: the one it names first, then any other its wheel installs."""
    wheel, _, _ = ctx.app_wheel
    found = bundled.read_wheel(wheel)
    packages = {path.split("/", 1)[0] for path in found.files if "/" in path}
    others = sorted((found.top_level & packages) - {ctx.app.package})
    return [ctx.app.package, *others]


def launcher_source(ctx: Context) -> str:
    """A launcher script that calls the app's console-script entry point, read from its wheel
    (or from the launcher's wheel packmatrix generated)."""
    parser = configparser.ConfigParser(delimiters=("=",))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    for wheel in ctx.own_wheels:
        with zipfile.ZipFile(wheel) as archive:
            for name in archive.namelist():
                if name.endswith(".dist-info/entry_points.txt"):
                    parser.read_string(archive.read(name).decode())
    try:
        target = parser["console_scripts"][ctx.app.script].strip()
    except KeyError:
        raise StepFailed(
            f"the wheel has no console script {ctx.app.script!r} in its entry_points.txt"
        ) from None
    module, _, attr = target.split("[", 1)[0].strip().partition(":")
    if not attr:
        raise StepFailed(f"console script {ctx.app.script!r} = {target!r} names no function")
    first, *rest = attr.split(".")
    # A static import, so that PyInstaller's analysis sees the app's package.
    return (
        "# Generated by packmatrix: the frozen binary's entry point.\n"
        "import functools\n"
        "import sys\n\n"
        f"from {module} import {first} as entry\n\n"
        f"sys.exit(functools.reduce(getattr, {rest!r}, entry)())\n"
    )


def stripping_spec(spec: Path, out: Path, manifest: Path) -> Path:
    """The spec file ``pyi-makespec`` wrote, with the step that strips each collected binary
    (``elfstrip``, copied beside it) between the analysis and the bundle's assembly."""
    shutil.copyfile(elfstrip.__file__, out / "packmatrix_elfstrip.py")
    text = spec.read_text(encoding="utf-8")
    if SPEC_ANCHOR not in text:
        raise StepFailed(f"the spec pyi-makespec wrote has no {SPEC_ANCHOR.strip()!r}: {spec}")
    hook = SPEC_HOOK.format(folder=str(out), work=str(out / "stripped"), manifest=str(manifest))
    spec.write_text(text.replace(SPEC_ANCHOR, hook + SPEC_ANCHOR, 1), encoding="utf-8")
    return spec


def read_stripping(manifest: Path) -> Stripping:
    """What the spec's strip step decided, from the manifest it wrote."""
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StepFailed(f"the strip step wrote no readable manifest {manifest}: {exc}") from None
    return Stripping.from_json(data)
