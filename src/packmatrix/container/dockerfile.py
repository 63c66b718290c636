"""The docker format's Dockerfile and build context.

The Dockerfile comes from ``templates/Dockerfile.j2``; the build context holds it, a
``.dockerignore``, the run's locked wheels with their lock, and the app wheel: everything the
image installs, so the build needs no network. A copy of the Dockerfile goes next to the report.
"""

from __future__ import annotations

import platform
import shutil
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Final

import jinja2

from packmatrix import __version__
from packmatrix.core import profiles
from packmatrix.core.atomic import write_atomic
from packmatrix.core.context import Context
from packmatrix.model.facts import BaseImageFacts

PORT: Final = 8000
"""The port the app listens on inside the container; the engine picks the host port."""
UID: Final = 10001
"""The numeric user (and group) the app runs as."""
USER: Final = "app"

DOCKERIGNORE: Final = """\
# Only what the Dockerfile copies goes to the engine.
*
!wheelhouse/
!app/
"""


TUNED: Final = (
    "pip outside the shipped venv (venv --without-pip)",
    "compileall --invalidation-mode unchecked-hash at build time",
)
"""What the tuned profile does to the image (plain: pip's defaults, a venv with pip in it)."""


def host_minor() -> str:
    """The Python the wheelhouse is made for: the one packmatrix runs on."""
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FunctionLoader(
            lambda name: (
                resources.files("packmatrix")
                .joinpath("templates")
                .joinpath(name)
                .read_text(encoding="utf-8")
            )
        ),
        autoescape=False,
        keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined,
    )


def _render(
    template: str, ctx: Context, base: BaseImageFacts, machine: str | None = None, **extra: object
) -> str:
    """A Dockerfile template, with what every one of them names: the app, packmatrix, the
    platform (the host's, or ``machine``'s), the pinned base, the user id, the port and the
    console script."""
    return (
        _templates()
        .get_template(template)
        .render(
            app_name=ctx.app.name,
            app_version=ctx.app.version,
            packmatrix_version=__version__,
            platform=f"linux/{machine or platform.machine()}",
            base_image=base.ref,
            base_tag=base.tag,
            uid=UID,
            port=PORT,
            script=ctx.app.script,
            **extra,
        )
    )


def render_dockerfile(
    ctx: Context, *, base: BaseImageFacts, app_wheels: list[str], machine: str | None = None
) -> str:
    """The Dockerfile text for the app, built on ``base`` (named by its pinned reference), for
    the host's platform or ``machine``'s."""
    return _render(
        "Dockerfile.j2",
        ctx,
        base,
        machine,
        app_wheels=app_wheels,
        python_minor=host_minor(),
        user=USER,
        tuned=profiles.tuned(ctx),
    )


@dataclass(frozen=True)
class BuildContext:
    """A build context folder and the text of its Dockerfile."""

    folder: Path
    dockerfile: str


def make_context(
    ctx: Context,
    base: BaseImageFacts,
    *,
    wheelhouse: Path | None = None,
    machine: str | None = None,
) -> BuildContext:
    """The build context: the Dockerfile, .dockerignore, the wheelhouse and the app wheel; for
    another ``machine`` (aarch64), from that platform's ``wheelhouse`` of the same lock.

    The Dockerfile is also written next to the report (``<reports>/Dockerfile``, or
    ``Dockerfile-aarch64``).
    """
    house = wheelhouse or ctx.wheelhouse
    name = f"docker-{machine}" if machine else "docker"
    folder = ctx.out(name) / "context"
    (folder / "wheelhouse").mkdir(parents=True)
    (folder / "app").mkdir()
    for path in [*sorted(house.glob("*.whl")), house / "requirements.lock"]:
        shutil.copy2(path, folder / "wheelhouse" / path.name)
    for wheel in ctx.own_wheels:
        shutil.copy2(wheel, folder / "app" / wheel.name)
    wheels = [w.name for w in ctx.own_wheels]
    dockerfile = render_dockerfile(ctx, base=base, app_wheels=wheels, machine=machine)
    (folder / "Dockerfile").write_text(dockerfile, encoding="utf-8")
    (folder / ".dockerignore").write_text(DOCKERIGNORE, encoding="utf-8")
    write_atomic(ctx.logs.parent / ("Dockerfile" + (f"-{machine}" if machine else "")), dockerfile)
    return BuildContext(folder, dockerfile)


FROZEN_DOCKERIGNORE: Final = """\
# Only what the Dockerfile copies goes to the engine.
*
!app/
"""


def make_frozen_context(
    ctx: Context,
    base: BaseImageFacts,
    onedir: Path,
    *,
    glibc_floor: str,
    machine: str | None = None,
) -> BuildContext:
    """The docker-frozen format's build context: its Dockerfile and the PyInstaller onedir
    (symlinks kept), for the host or another ``machine``. The Dockerfile is also written next
    to the report (``Dockerfile-frozen``, or ``Dockerfile-frozen-aarch64``)."""
    name = "docker-frozen" + (f"-{machine}" if machine else "")
    folder = ctx.out(name) / "context"
    folder.mkdir()
    shutil.copytree(onedir, folder / "app", symlinks=True)
    dockerfile = _render(
        "Dockerfile-frozen.j2", ctx, base, machine, base_libc=base.libc, glibc_floor=glibc_floor
    )
    (folder / "Dockerfile").write_text(dockerfile, encoding="utf-8")
    (folder / ".dockerignore").write_text(FROZEN_DOCKERIGNORE, encoding="utf-8")
    write_atomic(ctx.logs.parent / name.replace("docker-", "Dockerfile-"), dockerfile)
    return BuildContext(folder, dockerfile)
