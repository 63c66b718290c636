"""deb: a Debian binary package made with dpkg-deb, installed with ``dpkg -i`` and started the
way its systemd unit says, in containers of the Debian suite it was made for.

The build runs in a container of the suite whose ``python3`` is the host's Python (bookworm for
3.11: the wheelhouse is made for that minor), with no network: a venv at ``/opt/<app>/venv`` made
with the suite's ``/usr/bin/python3``, the locked wheels installed into it with ``--no-index
--require-hashes``, the app's wheel on top, the files of ``deb_files`` beside it, and
``dpkg-deb --build``. Only dpkg-deb is needed, and every Debian root has it (dpkg is Essential),
so the build needs nothing from the network. ``lintian`` runs on the host when it is installed
(``apt-get install lintian``; .ci/run installs it) and its findings are portability facts.

The deployment is an admin's: a fresh container of the suite, ``dpkg -i``, the address in
``/etc/default/<app>`` opened to the container's network (the engine publishes it on 127.0.0.1
only), committed as the installed system. Every start is a container of that system running the
unit's ``ExecStart`` as its ``User=``, with its ``EnvironmentFile=`` applied: both read from the
installed unit (``deb_files.parse_unit``), not typed again. The committed image is the run's and
is removed when the run ends, by id; every container is removed when its start ends.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import platform
import shlex
import shutil
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

from packmatrix.container import localbase
from packmatrix.container.baseimage import default_tag
from packmatrix.container.debian import BaseImageError
from packmatrix.container.dockerfile import PORT, host_minor
from packmatrix.container.engine import PING_TIMEOUT, connect, files_of
from packmatrix.container.runengine import Engine
from packmatrix.core import procs
from packmatrix.core.context import Context
from packmatrix.errors import StepFailed
from packmatrix.formats import deb_files
from packmatrix.formats.base import Built, Deployment, Running
from packmatrix.formats.docker import ContainerRunning, run_engine
from packmatrix.model.records import Portability
from packmatrix.reading import debian_package, portability
from packmatrix.reading.debian_package import data_text, field_of, findings, read_deb

ADMIN_HOST: Final = "0.0.0.0"
"""The address the admin sets in /etc/default/<app> inside a container: its own network
namespace, published on the host's 127.0.0.1 only."""
INSTALL_TIMEOUT: Final = 300.0


def package_of(ctx: Context) -> deb_files.Package:
    """The package this run makes for the app: for the suite that ships the host's Python."""
    minor = host_minor()
    suite = localbase.suite_for(minor)
    if suite is None:
        raise StepFailed(f"no Debian suite ships Python {minor} (the wheelhouse's)")
    return deb_files.Package(
        app=ctx.app.name,
        name=deb_files.package_name(ctx.app.normalized_name),
        version=deb_files.debian_version(ctx.app.version),
        script=ctx.app.script,
        description=deb_files.summary_of(ctx.own_wheels[0]),
        python=minor,
        suite=suite,
        arch=deb_files.DEBIAN_ARCH.get(platform.machine(), platform.machine()),
        port=PORT,
        libc=deb_files.libc_floor([*sorted(ctx.wheelhouse.glob("*.whl")), *ctx.own_wheels]),
    )


def start_of(unit_text: str, default_text: str) -> tuple[list[str], dict[str, str], str]:
    """The unit's start, as systemd would run it: ExecStart expanded with the environment its
    EnvironmentFile (this package's /etc/default file) and Environment= give; and its user."""
    unit = debian_package.parse_unit(unit_text)
    env = {**debian_package.parse_environment_file(default_text), **unit.environment}
    return debian_package.expand(unit.exec_start, env), env, unit.user or "root"


def grid_script(built: Built, where: str) -> str:
    """For the portability grid: ``dpkg -i`` the package copied to ``where``, open its address
    to the container's network, and start the unit's ExecStart as its user (read from the
    package's own unit and EnvironmentFile), as root drops to it."""
    control, data = read_deb(built.files[0])
    with data:
        package = field_of(control["control"], "Package") or "app"
        unit_text = data_text(data, f"/lib/systemd/system/{package}.service")
        unit = debian_package.parse_unit(unit_text)
        default_path = next((path for path, _ in unit.environment_files), "")
        default_text = data_text(data, default_path) if default_path else ""
    argv, env, user = start_of(unit_text, default_text)
    env = {**env, "HOST": ADMIN_HOST, "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    assignments = " ".join(shlex.quote(f"{key}={value}") for key, value in env.items())
    return (
        "set -e\n"
        f"dpkg -i {shlex.quote(where)}\n"
        f"exec env -i {assignments} setpriv --reuid {shlex.quote(user)} "
        f"--regid {shlex.quote(unit.group or user)} --init-groups -- {shlex.join(argv)}\n"
    )


# -- the format ----------------------------------------------------------------------------------
class DebFormat:
    name = "deb"
    title = "Debian package (.deb)"
    build_weight = 4.0  # a venv, an install and an xz-compressed archive, in a container

    def unavailable(self, ctx: Context) -> str | None:
        if localbase.suite_for(host_minor()) is None:
            return (
                f"no Debian suite ships Python {host_minor()}, the wheelhouse's: a .deb's venv "
                "is made with the suite's own python3"
            )
        try:
            connect(PING_TIMEOUT).close()
        except StepFailed as exc:
            return exc.reason
        return None

    def cache_key(self, ctx: Context) -> str:
        """A build depends on the suite's root it is made in, and on its recipe: the commands
        and the generated files (a change to either is another package)."""
        package = package_of(ctx)
        recipe = hashlib.sha256()
        recipe.update(deb_files.script_of(deb_files.build_commands(package, [])).encode())
        for path, (data, mode) in sorted(deb_files.tree_files(package, ctx).items()):
            recipe.update(f"{path} {mode:o} {len(data)}\n".encode() + data)
        return json.dumps([type(self).__qualname__, str(self._system(ctx).id), recipe.hexdigest()])

    def _system(self, ctx: Context) -> Any:
        """The suite's own root with its python3 (``packmatrix/target:SUITE-python``, the same
        root as the local base image), built once when missing."""
        return ctx.once("deb.system", lambda: _suite_image(ctx, run_engine(ctx), self.name))

    def build(self, ctx: Context) -> Built:
        eng = run_engine(ctx)
        package = package_of(ctx)
        image = self._system(ctx)
        house = ctx.wheelhouse
        files = deb_files.tree_files(package, ctx)
        for path in [*sorted(house.glob("*.whl")), house / "requirements.lock"]:
            files[f"wheelhouse/{path.name}"] = (path.read_bytes(), 0o644)
        for wheel in ctx.own_wheels:
            files[f"app/{wheel.name}"] = (wheel.read_bytes(), 0o644)
        commands = deb_files.build_commands(package, [wheel.name for wheel in ctx.own_wheels])
        out = ctx.out(self.name) / package.filename
        started = time.perf_counter()
        with eng.container(
            str(image.id),
            ["-c", deb_files.script_of(commands)],
            entrypoint=["/bin/sh"],
            what="deb-build",
            network=False,
            start=False,
            environment={"SOURCE_DATE_EPOCH": ctx.source_date_epoch, "LANG": "C.UTF-8"},
        ) as container:
            epoch = int(ctx.source_date_epoch)
            container.put_archive("/", _prefixed(files, deb_files.BUILD, epoch))
            container.start()
            code = container.wait(ctx.options.build_timeout)
            output = container.logs()
            _log(ctx, self.name, f"--- build in {package.suite} ({str(image.id)[:19]}) ---\n")
            _log(ctx, self.name, output)
            if code != 0:
                raise StepFailed(f"the package build exited with {code}", log_tail=output)
            archive = container.get_archive(f"{deb_files.BUILD}/out/{package.filename}")
        seconds = time.perf_counter() - started
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            stream = tar.extractfile(package.filename)
            if stream is None:
                raise StepFailed("the build container made no package")
            out.write_bytes(stream.read())
        control, data = read_deb(out)
        data.close()
        shown = [
            [
                "docker",
                "run",
                "--network",
                "none",
                sorted(image.tags)[-1] if image.tags else str(image.id),
                "sh",
                "-c",
                "…the commands below…",
            ],
            *commands,
        ]
        return Built(
            files=[out],
            commands=shown,
            seconds=seconds,
            generated_files=deb_files.shown_files(package, control["control"]),
            artifact_note=f"Debian package for {package.suite} (python3 {package.python})",
        )

    def deploy(self, ctx: Context, built: Built) -> Deployment:
        """``dpkg -i`` into a fresh container of the suite, the address opened, committed."""
        eng = run_engine(ctx)
        image = self._system(ctx)
        place = ctx.place(self.name)
        deb = built.files[0]
        shutil.copy2(deb, place / deb.name)
        control, data = read_deb(deb)
        with data:
            name = field_of(control["control"], "Package") or "app"
            unit_path = f"/lib/systemd/system/{name}.service"
        install = [
            ["dpkg", "-i", f"/tmp/{deb.name}"],
            ["sed", "-i", f"s/^HOST=.*/HOST={ADMIN_HOST}/", f"/etc/default/{name}"],
            ["rm", f"/tmp/{deb.name}"],
        ]
        started = time.perf_counter()
        with eng.container(
            str(image.id),
            ["-c", "set -e\n" + "".join(shlex.join(argv) + "\n" for argv in install)],
            entrypoint=["/bin/sh"],
            what="deb-install",
            network=False,
            start=False,
        ) as container:
            container.put_archive("/tmp", _prefixed({deb.name: (deb.read_bytes(), 0o644)}, ""))
            container.start()
            code = container.wait(INSTALL_TIMEOUT)
            output = container.logs()
            _log(ctx, self.name, f"--- dpkg -i ---\n{output}")
            if code != 0:
                reason = debian_package.dpkg_reason(output) or f"dpkg -i exited with {code}"
                raise StepFailed(reason, log_tail=output)
            unit_text = _file_in(container, unit_path)
            unit = debian_package.parse_unit(unit_text)
            default_path = next((path for path, _ in unit.environment_files), "")
            default_text = _file_in(container, default_path) if default_path else ""
            tag = f"packmatrix-{ctx.app.normalized_name}-deb"
            committed = container.sdk.commit(
                repository=tag, tag=ctx.run_id, conf={"Labels": eng.build_labels}
            )
        eng.track(str(committed.id))
        seconds = time.perf_counter() - started
        argv, env, user = start_of(unit_text, default_text)
        added = int(committed.attrs["Size"]) - int(image.attrs["Size"])
        return Deployment(
            place=place,
            argv=argv,
            env={**env, "LANG": "C.UTF-8"},
            footprint_bytes=added,
            footprint_label=f"what dpkg -i added to Debian {package_of(ctx).suite}'s root (the "
            "venv, its compiled modules, the unit, dpkg's records)",
            footprint_note="installed",
            commands=[*install, ["docker", "commit", "<container>", f"{tag}:{ctx.run_id}"]],
            seconds=seconds,
            target=place / deb.name,
            image=f"{tag}:{ctx.run_id}",
            user=user,
        )

    def launch(
        self, ctx: Context, deployment: Deployment, *, port: int
    ) -> contextlib.AbstractContextManager[Running]:
        """The unit's ExecStart as its user in a container of the installed system, published
        on 127.0.0.1 at a port the engine picks (``port`` is not used)."""
        return _run_unit(ctx, run_engine(ctx), deployment)

    def inspect(self, ctx: Context, built: Built, deployment: Deployment) -> Portability:
        """The control file's Depends, what the venv inside holds, and lintian's findings."""
        deb = built.files[0]
        control, data = read_deb(deb)
        folder = ctx.scratch("deb-contents")
        with data:
            inside = [m for m in data if "/site-packages/" in m.name and (m.isfile() or m.isdir())]
            data.extractall(folder, members=inside, filter="tar")
        text = control["control"]
        package = field_of(text, "Package") or "app"
        depends = field_of(text, "Depends") or ""
        site = next((folder / "opt" / package / "venv").glob("lib/python*/site-packages"))
        dists = portability.dists_in_site(site)
        suite = package_of(ctx).suite
        return Portability(
            needs=f"Debian {suite}'s python3 (dpkg installs it only with Depends: {depends})",
            requires_python=ctx.app.requires_python,
            os_arch=f"linux/{field_of(text, 'Architecture')}",
            platform_wheels=[d["wheel"] for d in dists if d["platform_specific"]],
            glibc_floor=portability.glibc_floor(list(site.rglob("*.so"))),
            distributions=[f"{d['name']}=={d['version']}" for d in dists],
            runs_as=f"{package} (a system user postinst creates; the unit's User=)",
            python=f"/usr/bin/python3 of Debian {suite} via /opt/{package}/venv",
            depends=depends,
            lintian=run_lintian(ctx, deb),
        )


def run_lintian(ctx: Context, deb: Path) -> list[str]:
    """lintian's findings (overridden ones too, marked ``O:``), or one line why it did not run."""
    lintian = shutil.which("lintian")
    if lintian is None:
        return ["lintian not run: it is not installed here (apt-get install lintian)"]
    argv = [lintian, "--no-cfg", "--show-overrides", "--fail-on", "none", str(deb)]
    folder = ctx.scratch("lintian")
    folder.mkdir(parents=True, exist_ok=True)
    log = folder / "lintian.log"
    try:
        procs.run(argv, cwd=deb.parent, env=ctx.build_env(), log=log, timeout=300, what="lintian")
    except StepFailed as exc:
        return [f"lintian failed: {exc.reason}"]
    text = log.read_text(encoding="utf-8", errors="replace")
    with ctx.log_for("deb").open("a", encoding="utf-8") as out:
        out.write(f"--- {shlex.join(argv)} ---\n{text}")
    return findings(text) or ["no findings"]


def _suite_image(ctx: Context, eng: Engine, name: str) -> Any:
    package_suite = localbase.suite_for(host_minor())
    if package_suite is None:
        raise StepFailed(f"no Debian suite ships Python {host_minor()}")
    for tag in (f"packmatrix/target:{package_suite}-python", default_tag(package_suite)):
        if (image := eng.find_image(tag)) is not None:
            return image
    plan = localbase.decide(
        f"Debian {package_suite}'s python3",
        host_minor(),
        present=lambda tag: eng.find_image(tag) is not None,
        host=localbase.Host(),
    )
    if isinstance(plan, localbase.Missing):
        raise localbase.missing(plan.reason, explicit=name in ctx.options.explicit_formats)
    if isinstance(plan, localbase.Build):
        ctx.progress(name, f"system: building {plan.tag} once with debootstrap")
        try:
            localbase.build_once(
                plan,
                present=lambda tag: eng.find_image(tag) is not None,
                log=lambda line: _log(ctx, name, line + "\n"),
            )
        except (BaseImageError, OSError) as exc:
            raise StepFailed(f"building {plan.tag} failed: {exc}") from None
    image = eng.find_image(plan.tag)
    if image is None:
        raise StepFailed(f"the suite's root {plan.tag} is not in the engine")
    return image


def _prefixed(files: dict[str, tuple[bytes, int]], prefix: str, mtime: int = 0) -> bytes:
    where = prefix.strip("/")
    named = {f"{where}/{k}" if where else k: v for k, v in files.items()}
    return deb_files.tar_with_modes(named, mtime=mtime)


def _file_in(container: Any, path: str) -> str:
    found = list(files_of(container.get_archive(path)).values())
    if len(found) != 1:
        raise StepFailed(f"{path} is not one file in the installed system")
    return found[0].decode("utf-8")


def _log(ctx: Context, name: str, text: str) -> None:
    with ctx.log_for(name).open("a", encoding="utf-8") as out:
        out.write(text)


@contextlib.contextmanager
def _run_unit(ctx: Context, eng: Engine, deployment: Deployment) -> Iterator[ContainerRunning]:
    """A container of the installed system running the unit's start; its output goes to the
    log and it is removed, by id, on the way out."""
    if deployment.image is None:
        raise StepFailed("the deployment names no installed system to start")
    inner = int(deployment.env.get("PORT", PORT))
    started = time.perf_counter()
    with eng.container(
        deployment.image,
        deployment.argv[1:],
        entrypoint=deployment.argv[:1],
        what=f"{ctx.app.normalized_name}-deb-start",
        user=deployment.user or "",
        ports={f"{inner}/tcp": ("127.0.0.1", None)},
        environment=deployment.env,
    ) as container:
        try:
            yield ContainerRunning(container.sdk, port=container.host_port(inner), started=started)
        finally:
            with contextlib.suppress(Exception):
                _log(ctx, "deb", f"\n--- container {container.name} ---\n{container.logs()}")
