"""wheel: ``python -m build --wheel``, installed with its locked dependencies into a fresh venv."""

from __future__ import annotations

from pathlib import Path

from packmatrix.core.context import Context
from packmatrix.formats.base import Built, Deployment
from packmatrix.formats.launch import LocalLaunch
from packmatrix.model.records import Portability
from packmatrix.reading import portability


class WheelFormat(LocalLaunch):
    name = "wheel"
    title = "wheel in a venv"

    def unavailable(self, ctx: Context) -> str | None:
        return None

    def build(self, ctx: Context) -> Built:
        _, seconds, argv = ctx.app_wheel
        return Built(files=ctx.own_wheels, commands=[argv], seconds=seconds)

    def deploy(self, ctx: Context, built: Built) -> Deployment:
        return install_into_venv(ctx, self.name, *map(str, built.files))

    def inspect(self, ctx: Context, built: Built, deployment: Deployment) -> Portability:
        return venv_portability(ctx, deployment)


def install_into_venv(ctx: Context, name: str, *requirements: str) -> Deployment:
    """A fresh venv outside the source tree, the app installed from local files only (with its
    generated launcher, when it has one)."""
    place = ctx.place(name)
    log = ctx.log_for(name)
    venv = place / "venv"
    python, venv_argv, venv_seconds = ctx.make_venv(venv, log=log)
    finds = ["--find-links", str(ctx.wheelhouse), "--find-links", str(ctx.buildhouse)]
    install = ctx.pip("--python", str(python), "install", "--no-index", *finds, *requirements)
    what = f"pip install {' '.join(Path(item).name for item in requirements)}"
    install_seconds = ctx.run(install, what=what, log=log)
    return Deployment(
        place=place,
        argv=[str(venv / "bin" / ctx.app.script)],
        env=ctx.launch_env(place),
        footprint=[venv],
        footprint_label="venv with the app and its dependencies",
        commands=[venv_argv, install],
        seconds=venv_seconds + install_seconds,
        venv=venv,
    )


def venv_portability(ctx: Context, deployment: Deployment) -> Portability:
    if deployment.venv is None:
        raise ValueError("venv_portability needs a deployment into a venv")
    site = next(deployment.venv.glob("lib/python*/site-packages"))
    dists = portability.dists_in_site(site)
    return Portability(
        needs=f"CPython {portability.python_minor(ctx.python)} at the venv's path",
        requires_python=ctx.app.requires_python,
        os_arch=portability.os_arch_of_dists(dists),
        platform_wheels=[d["wheel"] for d in dists if d["platform_specific"]],
        glibc_floor=portability.glibc_floor(list(site.rglob("*.so"))),
        distributions=[f"{d['name']}=={d['version']}" for d in dists],
    )
