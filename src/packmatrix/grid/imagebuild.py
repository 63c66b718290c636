"""The run's container images built for another platform (``linux/arm64``), under emulation, and
kept in the engine by what decides them, so an unchanged rerun builds nothing.

- docker: the same Dockerfile as the host's image, on the platform's Python base
  (``platformimage``), from the lock's aarch64 wheels, built through the SDK with
  ``platform="linux/arm64"``: its RUN steps (the venv, pip install, compileall) run under qemu.
  It is rewritten reproducibly as the host's is (``reprodimage``): the same inputs give the
  same image id.
- docker-frozen: PyInstaller, run in a container of the platform's builder root under qemu,
  freezes the app from the same lock with the same options as the host's onedir; the bundle is
  copied out and put on the platform's slim root (``frozenroot``) like the host's.

An image's key is a sha256 of its base's id, the app's source, the lock, the profile and the
recipe (the Dockerfile template, PyInstaller's options); the image is
tagged ``packmatrix-kept/APP-FORMAT-arm64:KEY`` and its facts kept under the key in the facts
cache. When a new one is kept, the one it replaces (same app, format and platform) is removed by
the id the facts cache recorded.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import shlex
import tarfile
import time
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Final

import docker

from packmatrix import __version__
from packmatrix.container import frozenroot, hostpython, localbase, platformimage
from packmatrix.container.dockerfile import host_minor, make_context, make_frozen_context
from packmatrix.container.dockerimage import ResolvedBase, build_image, layer_sizes
from packmatrix.container.engine import KEPT_REPOSITORY
from packmatrix.container.platformimage import ARCH, MACHINE, PLATFORM, PlatformBase
from packmatrix.container.runengine import Engine
from packmatrix.core import profiles
from packmatrix.core.atomic import copy_new
from packmatrix.core.context import Context
from packmatrix.errors import StepFailed
from packmatrix.formats.docker import reproducible_image
from packmatrix.formats.pyinstaller import (
    SPEC_ANCHOR,
    SPEC_HOOK,
    PyInstallerFormat,
    launcher_source,
    pyinstaller_requirement,
    read_bundle,
)
from packmatrix.grid import arches, targets
from packmatrix.grid.targets import Target
from packmatrix.model.facts import BaseImageFacts
from packmatrix.model.grid import PlatformImage
from packmatrix.reading import elfstrip
from packmatrix.steps import cache, cachekey

LAYOUT: Final = "1"
"""Changes when how an image is built changes: every kept image is built again."""
KIND: Final = "platform-image"
FORMATS: Final = ("docker", "docker-frozen")
"""The formats whose image is built for the platform too."""
BUILD_ROOT: Final = "/build"
"""Where the freeze happens in the builder's container."""
FREEZE_TIMEOUT: Final = 3600.0
"""Seconds the emulated freeze may take (a pip install and PyInstaller under qemu)."""

Log = Callable[[str], None]


def kept_tag(ctx: Context, name: str, key: str) -> str:
    return f"{KEPT_REPOSITORY}/{ctx.app.normalized_name}-{name}-{ARCH}:{cache.image_label(key)}"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _template(name: str) -> str:
    text = resources.files("packmatrix").joinpath("templates").joinpath(name).read_bytes()
    return _sha256(text)


def recipe(ctx: Context, name: str) -> list[str]:
    """What an image of ``name`` is made from, besides its base: the app's source (as the
    artifact cache keys a build: not the commit time, which changes with any commit), the lock,
    the profile, the template and (frozen) PyInstaller and its options."""
    parts = [
        LAYOUT,
        __version__,
        name,
        PLATFORM,
        ctx.options.profile,
        cachekey.run_source_digest(ctx),  # the app's source, as the artifact cache keys it
        *(f"{entry.name}=={entry.version}" for entry in ctx.lock),
    ]
    if name == "docker":
        return [*parts, _template("Dockerfile.j2")]
    onedir = PyInstallerFormat(onefile=False)
    return [
        *parts,
        _template("Dockerfile-frozen.j2"),
        frozenroot.root_tag("", ARCH),  # names the slim root's recipe
        pyinstaller_requirement(),
        *onedir.bundle_options(ctx),
        *onedir.tool_options(ctx),
        _sha256(Path(elfstrip.__file__).read_bytes()),
    ]


def find_kept(ctx: Context, eng: Engine, key: str) -> PlatformImage | None:
    """The image kept for ``key``, still in the engine under its tag; else None."""
    known = cache.read_facts(key)
    if not isinstance(known, dict):
        return None
    try:
        image = PlatformImage.from_json(known["image"])
        run_id = str(known["run_id"])
    except (KeyError, TypeError, ValueError):
        return None
    found = eng.find_image(image.id)
    if found is None or image.tag not in found.tags:
        return None
    eng.kept.add(image.id)
    return PlatformImage.from_json({**image.to_json(), "cached_from": run_id})


def keep(ctx: Context, eng: Engine, key: str, image: PlatformImage) -> None:
    """Keep ``image`` in the engine for later runs (with the artifact cache on: a library
    caller's run leaves nothing); remove the one it replaces, by id."""
    if not ctx.options.artifact_cache:
        return
    eng.keep(image.id, image.tag)
    cache.write_facts(key, {"image": image.to_json(), "run_id": ctx.run_id})
    latest = cache.facts_key(KIND, ["latest", ctx.app.normalized_name, image.format, PLATFORM])
    before = cache.read_facts(latest)
    cache.write_facts(latest, {"id": image.id})
    if isinstance(before, dict) and before.get("id") not in (None, image.id):
        # in use (a container, a tag of someone's), or gone: left as it is
        with contextlib.suppress(docker.errors.DockerException):
            eng.client.images.remove(str(before["id"]), force=False)


def lock_wheels(ctx: Context) -> Path:
    """The lock's wheels for the platform and the host's Python (``arches.wheelhouse``, the
    grid's: downloaded once, the wheel cache first); refused in one line when one is missing."""
    minor = host_minor()
    suite = localbase.suite_for(minor) or ""
    glibc = ".".join(map(str, hostpython.SUITE_GLIBC.get(suite, (2, 17))))
    name = f"{suite}-python-{ARCH}"
    target = targets.TARGETS.get(name) or Target(name, suite, glibc, minor, arch=MACHINE)
    house = arches.wheelhouse(ctx, target)
    if house.missing:
        raise StepFailed(house.missing)
    return house.path


def tool_wheels(ctx: Context) -> Path:
    """PyInstaller's wheels for the platform (its bootloader is in its platform wheel) and
    what it needs, for the host's Python: the wheel cache first, then the index."""

    def fill() -> Path:
        house = ctx.workdir / f"toolhouse-{MACHINE}"
        house.mkdir(parents=True, exist_ok=True)
        minor = host_minor().replace(".", "")
        options = [
            *("download", "--only-binary=:all:", "--dest", str(house)),
            *("--platform", f"manylinux2014_{MACHINE}", "--python-version", host_minor()),
            *("--implementation", "cp", "--abi", f"cp{minor}", "--abi", "abi3", "--abi", "none"),
            *("--find-links", str(ctx.cache)),
        ]
        log = ctx.log_for(f"docker-frozen-{ARCH}")
        what = f"PyInstaller's wheels for {MACHINE}"
        requirement = pyinstaller_requirement()
        try:
            ctx.run(ctx.pip(*options, "--no-index", requirement), what=what, log=log)
        except StepFailed:
            argv = ctx.pip(*options, requirement)
            ctx.run(argv, what=f"downloading {what}", log=log, env=ctx.download_env())
        copy_new(house.glob("*.whl"), ctx.cache)
        return house

    return ctx.once(f"toolhouse:{MACHINE}", fill)


def share_target_root(eng: Engine, minor: str) -> None:
    """The grid's ``SUITE-python-arm64`` target is the same root as the local arm64 base
    (python3, venv, ca-certificates): when the grid built it and the base is missing, it is
    tagged as the base instead of being bootstrapped a second time."""
    tag = platformimage.local_tag(minor)
    suite = localbase.suite_for(minor)
    target = targets.TARGETS.get(f"{suite}-python-{ARCH}")
    if tag is None or target is None or eng.find_image(tag) is not None:
        return
    image = eng.find_image(target.tag)
    if image is not None and image.attrs.get("Architecture") == ARCH:
        image.tag(*tag.rsplit(":", 1))


def platform_image(ctx: Context, eng: Engine, name: str, log: Log) -> PlatformImage:
    """The image of format ``name`` for the platform: kept from an earlier run, or built now."""
    minor = host_minor()
    if name == "docker":
        share_target_root(eng, minor)
        base = platformimage.ensure_base(eng, minor, log=log)
        key = cache.facts_key(KIND, [base.id, *recipe(ctx, name)])
        found = None if ctx.options.rebuild else find_kept(ctx, eng, key)
        return found or _build_docker(ctx, eng, base, key, log)
    builder = platformimage.ensure_builder(eng, minor, log=log)
    key = cache.facts_key(KIND, [builder.id, *recipe(ctx, name)])
    found = None if ctx.options.rebuild else find_kept(ctx, eng, key)
    return found or _build_frozen(ctx, eng, builder, key, log)


def _facts(base: PlatformBase, python: str, libc: str) -> BaseImageFacts:
    return BaseImageFacts(
        tag=base.tag,
        id=base.id,
        ref=base.ref,
        bytes=base.bytes,
        os_arch=PLATFORM,
        python=python,
        libc=libc,
        note=base.note,
    )


def _build_docker(
    ctx: Context, eng: Engine, base: PlatformBase, key: str, log: Log
) -> PlatformImage:
    found = platformimage.probe_python(eng, base.id)
    if found.get("minor") != host_minor() or found.get("machine") != MACHINE:
        raise StepFailed(
            f"the {PLATFORM} base {base.tag} has Python {found.get('python')} on "
            f"{found.get('machine')}, not Python {host_minor()} on {MACHINE}"
        )
    facts = _facts(base, found["python"], found["libc"])
    house = lock_wheels(ctx)
    context = make_context(ctx, facts, wheelhouse=house, machine=MACHINE)
    log(f"building the docker image for {PLATFORM} on {base.tag}, its RUN steps under qemu")
    return _built(ctx, eng, "docker", context.folder, ResolvedBase(facts, base.layers), key)


def _built(
    ctx: Context,
    eng: Engine,
    name: str,
    folder: Path,
    base: ResolvedBase,
    key: str,
    before: float = 0.0,
) -> PlatformImage:
    """Build ``folder`` for the platform, rewrite it reproducibly, measure and keep it;
    ``before``: seconds its build took before this step (the frozen app's freeze)."""
    tag = f"packmatrix-{ctx.app.normalized_name}-{name}-{ARCH}:{ctx.run_id}"
    log_name = f"{name}-{ARCH}"
    seconds = build_image(
        ctx, eng, folder, tag, nocache=True, known=eng.image_ids(), log_name=log_name,
        platform=PLATFORM,
    )  # fmt: skip
    eng.track(str(eng.client.images.get(tag).id))
    saved = folder.parent / f"{ctx.app.normalized_name}-{ARCH}-image.tar"
    image = reproducible_image(ctx, eng, tag, base, saved)
    if image.attrs.get("Architecture") != ARCH:
        raise StepFailed(
            f"the {name} image built for {PLATFORM} says linux/{image.attrs.get('Architecture')}"
        )
    compressed, _ = layer_sizes(saved, base.layers)
    saved.unlink(missing_ok=True)
    made = PlatformImage(
        format=name,
        platform=PLATFORM,
        tag=kept_tag(ctx, name, key),
        id=str(image.id),
        bytes=int(image.attrs["Size"]),
        compressed_bytes=compressed,
        base=base.facts.note or base.facts.tag,
        base_bytes=base.facts.bytes,
        build_seconds=before + seconds,
        emulated=True,
    )
    keep(ctx, eng, key, made)
    return made


# -- docker-frozen ----------------------------------------------------------------------------
def _build_frozen(
    ctx: Context, eng: Engine, builder: PlatformBase, key: str, log: Log
) -> PlatformImage:
    log(f"freezing the app for {PLATFORM} with PyInstaller in {builder.tag}, under qemu")
    onedir, seconds = freeze(ctx, eng, builder)
    _, floor = read_bundle(onedir)
    suite = hostpython.oldest_suite(floor.version)
    if suite is None:
        raise StepFailed(f"the {PLATFORM} onedir needs {floor.version}, newer than every suite's")
    tag, note = frozenroot.ensure_root(eng, suite, log=log, arch=ARCH)
    root = platformimage.of_image(eng.client.images.get(tag), tag, f"{tag}, {note}")
    glibc = ".".join(map(str, hostpython.SUITE_GLIBC[suite]))
    facts = _facts(root, "none", f"glibc {glibc}")
    context = make_frozen_context(
        ctx, facts, onedir, glibc_floor=floor.version or "none found", machine=MACHINE
    )
    base = ResolvedBase(facts, root.layers)
    return _built(ctx, eng, "docker-frozen", context.folder, base, key, before=seconds)


def freeze_script(ctx: Context) -> str:
    """The shell script that freezes the app in the builder's container, as the host's onedir
    build does: a venv of the lock and PyInstaller, offline; then PyInstaller (the tuned
    profile: pyi-makespec, the strip step put in the spec, then PyInstaller on the spec)."""
    onedir = PyInstallerFormat(onefile=False)
    out = f"{BUILD_ROOT}/out"
    python = f"{BUILD_ROOT}/venv/bin/python"
    analysis = [
        f"{out}/launcher.py", "--name", ctx.app.script, "--onedir", "--specpath", out,
        *onedir.bundle_options(ctx), *onedir.tool_options(ctx),
    ]  # fmt: skip
    lines = [
        "set -e",
        f"python3 -m venv {BUILD_ROOT}/venv",
        f"{BUILD_ROOT}/venv/bin/pip install --quiet --no-index --find-links {BUILD_ROOT}/wheels "
        f"{BUILD_ROOT}/app/*.whl {shlex.quote(pyinstaller_requirement())}",
        f"cd {out}",
    ]
    if profiles.tuned(ctx):
        spec = f"{out}/{ctx.app.script}.spec"
        lines += [
            shlex.join([python, "-m", "PyInstaller.utils.cliutils.makespec", *analysis]),
            f"python3 {BUILD_ROOT}/hook.py {shlex.quote(spec)}",
        ]
        analysis = [spec]
    lines.append(
        shlex.join([
            python, "-m", "PyInstaller", *analysis, "--distpath", f"{out}/dist",
            "--workpath", f"{out}/work", "--noconfirm", "--clean", "--log-level", "WARN",
        ])
    )  # fmt: skip
    return "\n".join(lines) + "\n"


def hook_script() -> str:
    """Puts the tuned profile's strip step into the spec, as ``stripping_spec`` does on the host."""
    out = f"{BUILD_ROOT}/out"
    hook = SPEC_HOOK.format(folder=out, work=f"{out}/stripped", manifest=f"{out}/stripping.json")
    return (
        "import sys\n"
        "path = sys.argv[1]\n"
        "text = open(path, encoding='utf-8').read()\n"
        f"assert {SPEC_ANCHOR!r} in text, 'the spec has no pyz = PYZ('\n"
        f"text = text.replace({SPEC_ANCHOR!r}, {hook!r} + {SPEC_ANCHOR!r}, 1)\n"
        "open(path, 'w', encoding='utf-8').write(text)\n"
    )


def freeze(ctx: Context, eng: Engine, builder: PlatformBase) -> tuple[Path, float]:
    """The onedir frozen for the platform in a container of ``builder``: its folder on the host,
    and the container's wall time."""
    house = lock_wheels(ctx)
    tools = tool_wheels(ctx)
    files = {
        "launcher.py": launcher_source(ctx).encode(),
        "packmatrix_elfstrip.py": Path(elfstrip.__file__).read_bytes(),
    }
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w") as tar:
        for path in [*house.glob("*.whl"), *tools.glob("*.whl")]:
            tar.add(path, arcname=f"build/wheels/{path.name}")
        for wheel in ctx.own_wheels:
            tar.add(wheel, arcname=f"build/app/{wheel.name}")
        for name, text in [
            *((f"out/{n}", b) for n, b in files.items()),
            ("hook.py", hook_script().encode()),
            ("freeze.sh", freeze_script(ctx).encode()),
        ]:
            info = tarfile.TarInfo(f"build/{name}")
            info.size = len(text)
            tar.addfile(info, io.BytesIO(text))
    env = {
        "SOURCE_DATE_EPOCH": ctx.source_date_epoch, "PYTHONHASHSEED": "0", "HOME": "/tmp",
        "LANG": "C.UTF-8", "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PYINSTALLER_CONFIG_DIR": f"{BUILD_ROOT}/out/pyinstaller-cache",
    }  # fmt: skip
    log_path = ctx.log_for(f"docker-frozen-{ARCH}")
    with eng.container(
        builder.id,
        ["-c", f"sh {BUILD_ROOT}/freeze.sh"],
        entrypoint=["/bin/sh"],
        what="freeze-arm64-",
        start=False,
        network=False,
        environment=env,
        user="0:0",
    ) as container:
        container.put_archive("/", data.getvalue())
        started = time.perf_counter()
        container.start()
        code = container.wait(FREEZE_TIMEOUT)
        seconds = time.perf_counter() - started
        output = container.logs()
        with log_path.open("a", encoding="utf-8") as out:
            out.write(f"\n$ sh {BUILD_ROOT}/freeze.sh  # in {builder.tag}, {PLATFORM}\n")
            out.write(freeze_script(ctx))
            out.write(output)
        if code != 0:
            raise StepFailed(
                f"PyInstaller for {PLATFORM} failed (exit code {code})",
                log_tail="\n".join(output.splitlines()[-20:]),
            )
        bundle = container.get_archive(f"{BUILD_ROOT}/out/dist/{ctx.app.script}")
    target = ctx.out(f"pyinstaller-onedir-{MACHINE}")
    with tarfile.open(fileobj=io.BytesIO(bundle)) as tar:
        tar.extractall(target, filter="tar")
    return target / ctx.app.script, seconds
