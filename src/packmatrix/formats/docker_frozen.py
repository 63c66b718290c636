"""docker-frozen: the PyInstaller onedir in an image with no Python, no pip and no compiler.

The "distroless" idea, measured: the onedir carries its interpreter and every library but glibc, so
its image needs only a minimal Debian root (``packmatrix.container.frozenroot``: glibc, ``/bin/sh``,
base-files, netbase), made offline with debootstrap like the base image and kept in the engine under
its tag. The suite is the oldest whose glibc satisfies the onedir's floor. The onedir is the
pyinstaller-onedir format's build, shared within the run (``pyinstaller.onedir_build``), so the two
rows test the same bundle. Its image is built, saved, measured and started like the docker format's
(``formats.docker``): offline, non-root, published on 127.0.0.1 only.

Everything inside the image is read from the saved image's layers, not from a container: there
is no Python to ask, and a distroless image may have no shell. Only the engine's overhead runs
containers, after the starts were measured.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import platform
import re
import shutil
import tarfile
from pathlib import Path
from typing import Any, Final

from packmatrix.container import frozenroot, hostpython, localbase
from packmatrix.container.debian import BaseImageError
from packmatrix.container.dockerfile import make_frozen_context
from packmatrix.container.dockerimage import ResolvedBase, engine_arch, engine_overhead, image_files
from packmatrix.core.context import Context
from packmatrix.errors import StepFailed
from packmatrix.formats.base import Built, Deployment, Running
from packmatrix.formats.docker import (
    DockerFormat,
    build_measured,
    image_deployment,
    image_of,
    image_size_text,
    run_container,
    run_engine,
)
from packmatrix.formats.pyinstaller import PyInstallerFormat, onedir_build, read_bundle
from packmatrix.model.facts import BaseImageFacts
from packmatrix.model.records import Figures, Portability
from packmatrix.model.stats import Stat
from packmatrix.model.units import human_bytes
from packmatrix.reading.artifacts import open_artifact

OVERHEAD_ENTRYPOINT: Final = ["/bin/sh", "-c", "true"]
"""The engine's overhead is timed with ``sh -c true``: the root has no ``/usr/bin/true``."""

_COMPILER = re.compile(r"^usr/(local/)?bin/(gcc|cc|c\+\+|g\+\+|clang)(-[0-9.]+)?$")
_PYTHON = re.compile(r"^usr/(local/)?(bin/python[0-9.]*|lib/python[0-9.]+/os\.py)$")
_PIP = re.compile(r"(^|/)(bin/pip[0-9.]*|site-packages/pip/__init__\.py)$")


class DockerFrozenFormat:
    name = "docker-frozen"
    title = "Docker image, frozen (no Python)"
    build_weight = 5.0  # the onedir build it holds, then the image's
    traces_imports = True

    def cache_key(self, ctx: Context) -> str:
        """A build depends on the root image's recipe (``frozenroot.root_tag`` names it)."""
        return json.dumps([type(self).__qualname__, frozenroot.root_tag("")])

    def profile_options(self, ctx: Context) -> list[str]:
        """The onedir's: the image holds the pyinstaller-onedir build."""
        return PyInstallerFormat(onefile=False).profile_options(ctx)

    def keep(self, ctx: Context, built: Built, label: str) -> Built:
        """Kept in the engine for later runs, as the docker format keeps its image."""
        return DockerFormat().keep(ctx, built, label)

    def reuse(self, ctx: Context, built: Built) -> bool:
        return DockerFormat().reuse(ctx, built)

    def unavailable(self, ctx: Context) -> str | None:
        return PyInstallerFormat(onefile=False).unavailable(ctx) or DockerFormat().unavailable(ctx)

    def build(self, ctx: Context) -> Built:
        eng = run_engine(ctx)
        onedir = onedir_build(ctx)
        if onedir.folder is None:
            raise StepFailed("the pyinstaller-onedir build made no folder")
        _, floor = read_bundle(onedir.folder)
        suite = hostpython.oldest_suite(floor.version)
        if suite is None:
            raise StepFailed(
                f"the onedir needs {floor.version} ({floor.needed_by}), newer than the glibc "
                f"of every Debian suite packmatrix knows ({', '.join(hostpython.SUITE_GLIBC)})"
            )
        base = self._root(ctx, eng, suite)
        floor_text = floor.version or "none found"
        context = make_frozen_context(ctx, base.facts, onedir.folder, glibc_floor=floor_text)
        tag = f"packmatrix-{ctx.app.normalized_name}-frozen:{ctx.run_id}"
        built = build_measured(ctx, eng, context, tag, base, log_name=self.name)
        return dataclasses.replace(
            built,
            commands=[*onedir.commands, *built.commands],
            seconds=onedir.seconds + built.seconds,
            stripping=onedir.stripping,
        )

    def _root(self, ctx: Context, eng: Any, suite: str) -> ResolvedBase:
        """The minimal Debian root for ``suite``, built once when missing; without it the row
        is SKIPPED (FAILED when ``--formats`` named docker-frozen)."""

        def log(line: str) -> None:
            with ctx.log_for(self.name).open("a", encoding="utf-8") as out:
                out.write(line.rstrip("\n") + "\n")

        if eng.find_image(frozenroot.root_tag(suite)) is None:
            ctx.progress(self.name, f"root image: building {frozenroot.root_tag(suite)} once")
        try:
            tag, note = frozenroot.ensure_root(eng, suite, log=log)
        except (BaseImageError, OSError) as exc:  # OSError: a full disk, an unwritable cache
            first = (str(exc).splitlines() or [type(exc).__name__])[0]
            log(str(exc))
            explicit = self.name in ctx.options.explicit_formats
            raise localbase.missing(first, explicit=explicit) from None
        image = eng.find_image(tag)
        if image is None:
            raise StepFailed(f"the root image {tag} vanished from the engine")
        if image.attrs.get("Architecture") != engine_arch(platform.machine()):
            raise StepFailed(f"the root image {tag} is not for {platform.machine()}")
        glibc = ".".join(map(str, hostpython.SUITE_GLIBC[suite]))
        return ResolvedBase(
            facts=BaseImageFacts(
                tag=tag,
                id=str(image.id),
                ref=str(image.id),
                bytes=int(image.attrs["Size"]),
                os_arch=f"{image.attrs.get('Os')}/{image.attrs.get('Architecture')}",
                python="none",
                libc=f"glibc {glibc}",
                note=note,
            ),
            layers=frozenset(image.attrs.get("RootFS", {}).get("Layers", [])),
        )

    def deploy(self, ctx: Context, built: Built) -> Deployment:
        return image_deployment(ctx, self.name, built)

    def launch(
        self, ctx: Context, deployment: Deployment, *, port: int
    ) -> contextlib.AbstractContextManager[Running]:
        """``port`` is not used: the engine picks the host port, as for the docker format."""
        return run_container(ctx, run_engine(ctx), deployment, log_name=self.name)

    def after_starts(self, ctx: Context, built: Built) -> None:
        """The engine's overhead, as for the docker row (the image has no ``true``)."""
        figures = built.figures or Figures()
        figures.engine_overhead_seconds = Stat.of(
            engine_overhead(run_engine(ctx), image_of(built).tag, entrypoint=OVERHEAD_ENTRYPOINT),
            "s",
        )

    def inspect(self, ctx: Context, built: Built, deployment: Deployment) -> Portability:
        """What is inside, read from the saved image; what the bundle holds, traced as for the
        pyinstaller-onedir row."""
        eng = run_engine(ctx)
        facts = image_of(built)
        figures = built.figures or Figures()
        image = eng.client.images.get(facts.id)
        files = image_files(built.files[0])
        bundle = self._bundle(ctx, built)
        user = str(image.attrs.get("Config", {}).get("User") or "root")
        uid = user.split(":")[0] if user != "root" else "0"
        root = " — ROOT" if uid in ("0", "root") else ", not root"
        pythons = sorted(path for path in files if _PYTHON.match(path))
        packages = f"; {facts.os_packages} OS packages" if facts.os_packages is not None else ""
        base = facts.base
        return Portability(
            needs="a container engine (Docker/Podman)",
            os_arch=f"{image.attrs.get('Os')}/{image.attrs.get('Architecture')}",
            runs_as=f"{user} (uid {uid}{root})",
            base_image=f"{base.tag} ({human_bytes(base.bytes)}, {base.libc}, no Python)"
            + (f"; {base.note}" if base.note else ""),
            base_image_id=base.id,
            python=(
                f"none in the image ({', '.join(pythons)} found)"
                if pythons
                else f"none in the image; the frozen bundle carries its own{packages}"
            ),
            image_size=image_size_text(figures),
            glibc_floor=bundle.glibc_floor,
            compilers=sorted(path for path in files if _COMPILER.match(path)),
            pip_caches=sorted(
                {p.split(".cache/pip/")[0] + ".cache/pip" for p in files if ".cache/pip/" in p}
                | {p for p in files if _PIP.search(p)}
            ),
            wheelhouse_files=sorted(p for p in files if p.endswith((".whl", "/requirements.lock"))),
            distributions=bundle.distributions,
            extension_modules=bundle.extension_modules,
            build_tools=bundle.build_tools,
        )

    def _bundle(self, ctx: Context, built: Built) -> Portability:
        """The bundle's own facts (its glibc floor, the distributions traced in it), read as
        for the pyinstaller-onedir row from the bundle as the saved image holds it."""
        folder = extract_bundle(built.files[0], ctx.app.script, ctx.scratch("frozen-bundle"))
        shown = Deployment(place=folder, argv=[str(folder / ctx.app.script)], target=folder)
        return PyInstallerFormat(onefile=False).inspect(ctx, built, shown)


def extract_bundle(saved: Path, script: str, scratch: Path) -> Path:
    """Copy ``/opt/<script>`` out of a saved image's visible files into ``scratch``."""
    prefix = f"opt/{script}/"
    target = scratch / script
    shutil.rmtree(scratch, ignore_errors=True)
    target.mkdir(parents=True)
    with open_artifact(saved) as artifact:
        for member in artifact.members:
            if member.parent is None or member.hidden_by is not None:
                continue
            if not member.path.startswith(prefix) or member.path == prefix:
                continue
            path = target / member.path[len(prefix) :].rstrip("/")
            info = member.info
            if not isinstance(info, tarfile.TarInfo):
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            if info.isdir():
                path.mkdir(exist_ok=True)
            elif info.issym():
                os.symlink(info.linkname, path)
            elif info.isfile():
                path.write_bytes(member.read())
                path.chmod(info.mode & 0o755)
    return target
