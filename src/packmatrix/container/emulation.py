"""Other architectures on this host: whether it can run their code, and a root file system
loaded as an image of that architecture.

An x86_64 host runs arm64 code through qemu-user, registered with the kernel's binfmt_misc: the
kernel hands every aarch64 ELF file to ``qemu-aarch64``. Only a handler registered with the
``F`` flag ("fix binary") works inside a container, whose file system has no qemu: the kernel
opened the interpreter when it was registered. Debian's ``qemu-user-static`` registers it so
(``apt-get install qemu-user-static binfmt-support``). ``emulation_problem`` reads the
registrations from ``/proc/sys/fs/binfmt_misc`` (a parameter, so a test passes a folder of its
own) and answers None, or one line that says how to enable it.

``docker import --platform linux/arm64`` records the image as the engine's own architecture on
Docker Engine 20.10, and ``docker run --platform`` then tries to pull it. So ``load_rootfs``
writes the image ``docker load`` reads instead: the root file system as its one layer, and a
config that says ``"architecture": "arm64"``. The engine then runs it as it is, every program in
it under qemu.
"""

from __future__ import annotations

import datetime
import hashlib
import io
import json
import platform
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import docker

from packmatrix.container.debian import BaseImageError

BINFMT: Final = Path("/proc/sys/fs/binfmt_misc")
REMEDY: Final = "apt-get install qemu-user-static binfmt-support"
ENGINE_NAMES: Final = {"x86_64": "amd64", "aarch64": "arm64"}
"""``uname -m`` → the engine's (and Debian's) name of an architecture."""
ELF_MACHINES: Final = {"x86_64": 62, "aarch64": 183}
"""An architecture's ``e_machine`` in an ELF header."""
VARIANTS: Final = {"arm64": "v8"}
_CHUNK: Final = 1 << 20


def uname_arch(name: str) -> str:
    """``arm64`` → ``aarch64``, ``amd64`` → ``x86_64``; a ``uname -m`` name as it is."""
    return {engine: uname for uname, engine in ENGINE_NAMES.items()}.get(name, name)


def engine_arch(name: str) -> str:
    """``aarch64`` → ``arm64``: the name the engine, Debian and an image config use."""
    return ENGINE_NAMES.get(uname_arch(name), name)


def host_arch() -> str:
    """This host's architecture, as ``uname -m`` says it (``x86_64``)."""
    return uname_arch(platform.machine())


def emulated(arch: str, *, machine: str | None = None) -> bool:
    """Code for ``arch`` runs here through an emulator, not natively (``machine``: the host's,
    ``uname -m``; this one's by default)."""
    return bool(arch) and uname_arch(arch) != uname_arch(machine or host_arch())


@dataclass(frozen=True)
class Handler:
    """One binfmt_misc registration, as its file says."""

    name: str
    enabled: bool
    flags: str
    machine: int | None
    """The ``e_machine`` of the ELF files it takes (None: not an ELF handler)."""


def read_handler(path: Path) -> Handler:
    """A registration file: ``enabled``, ``interpreter …``, ``flags: PF``, ``magic 7f454c46…``."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    words = {key: value for key, _, value in (line.strip().partition(" ") for line in lines)}
    magic = bytes.fromhex(words.get("magic", "").strip() or "00")
    machine = None
    if magic[:4] == b"\x7fELF" and len(magic) >= 20:
        machine = int.from_bytes(magic[18:20], "little" if magic[5] == 1 else "big")
    return Handler(
        name=path.name,
        enabled="enabled" in (line.strip() for line in lines),
        flags=words.get("flags:", "").strip(),
        machine=machine,
    )


def handlers(binfmt: Path = BINFMT) -> list[Handler]:
    """Every registration in ``binfmt`` (``register`` and ``status`` are not ones)."""
    found = []
    for path in sorted(binfmt.iterdir()):
        if path.name not in ("register", "status") and path.is_file():
            try:
                found.append(read_handler(path))
            except (OSError, ValueError):
                continue
    return found


def emulation_problem(
    arch: str = "arm64", *, binfmt: Path = BINFMT, machine: str | None = None
) -> str | None:
    """None when this host runs ``arch`` code (natively, or through a qemu registered, enabled
    and with the ``F`` flag, so containers can use it); else one line that says how to enable
    it. ``machine``: the host's architecture (this one's by default)."""
    wanted = uname_arch(arch)
    if not emulated(wanted, machine=machine):
        return None
    cannot = f"this host can't run {engine_arch(wanted)} code"
    qemu = f"qemu-{wanted}"
    status = binfmt / "status"
    try:
        on = status.read_text(encoding="utf-8").strip() == "enabled"
        registered = handlers(binfmt)
    except OSError:
        return f"{cannot}: binfmt_misc is not mounted at {binfmt} — {REMEDY}"
    if not on:
        return f"{cannot}: binfmt_misc is disabled ({status}) — echo 1 > {status}"
    elf = ELF_MACHINES.get(wanted)
    mine = [handler for handler in registered if handler.machine == elf] if elf else []
    if not mine:
        return f"{cannot}: no {qemu} in {binfmt} — {REMEDY}"
    if not any(handler.enabled for handler in mine):
        names = ", ".join(handler.name for handler in mine)
        return f"{cannot}: {names} is registered but disabled — update-binfmts --enable {qemu}"
    if not any(handler.enabled and "F" in handler.flags for handler in mine):
        return (
            f"{cannot} in a container: {mine[0].name} is registered without the F flag, so "
            f"only the host's own files can use it — {REMEDY} (it registers with F)"
        )
    return None


# -- a root file system as an image of another architecture --------------------------------------
def image_config(changes: Sequence[str], diff_id: str, arch: str, created: str) -> dict[str, Any]:
    """The config of a one-layer image for ``arch``, with the Dockerfile ``changes`` that
    ``docker import`` would apply (``ENV``, ``CMD``, ``ENTRYPOINT``, ``WORKDIR``, ``USER``)."""
    config: dict[str, Any] = {}
    for change in changes:
        instruction, _, value = change.partition(" ")
        key = instruction.upper()
        if key == "ENV":
            config.setdefault("Env", []).append(value.strip())
        elif key in ("CMD", "ENTRYPOINT"):
            text = value.strip()
            config[key.title() if key == "CMD" else "Entrypoint"] = (
                json.loads(text) if text.startswith("[") else ["/bin/sh", "-c", text]
            )
        elif key in ("WORKDIR", "USER"):
            config["WorkingDir" if key == "WORKDIR" else "User"] = value.strip()
        else:
            raise ValueError(f"a change load_rootfs does not apply: {change!r}")
    name = engine_arch(arch)
    found: dict[str, Any] = {"architecture": name, "os": "linux"}
    if name in VARIANTS:
        found["variant"] = VARIANTS[name]
    return found | {
        "config": config,
        "created": created,
        "history": [{"created": created, "created_by": f"packmatrix: a linux/{name} root"}],
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }


def load_rootfs(
    client: Any, tar_path: Path, tag: str, changes: Sequence[str], *, arch: str = "arm64"
) -> str:
    """Load the root file system tar ``tar_path`` as the image ``tag`` for ``arch``, with the
    Dockerfile ``changes``; its image id. The image tar is written beside ``tar_path`` and
    removed after."""
    digest = hashlib.sha256()
    with tar_path.open("rb") as stream:
        for block in iter(lambda: stream.read(_CHUNK), b""):
            digest.update(block)
    diff_id = f"sha256:{digest.hexdigest()}"
    created = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    config = json.dumps(image_config(changes, diff_id, arch, created), sort_keys=True).encode()
    config_name = f"{hashlib.sha256(config).hexdigest()}.json"
    layer = f"{digest.hexdigest()}/layer.tar"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [tag], "Layers": [layer]}])
    image_tar = tar_path.with_name(f"{tar_path.stem}-image.tar")
    try:
        with tarfile.open(image_tar, "w", format=tarfile.PAX_FORMAT) as out:
            for name, data in ((config_name, config), ("manifest.json", manifest.encode())):
                info = tarfile.TarInfo(name)
                info.size, info.mode = len(data), 0o644
                out.addfile(info, io.BytesIO(data))
            info = tarfile.TarInfo(layer)
            info.size, info.mode = tar_path.stat().st_size, 0o644
            with tar_path.open("rb") as stream:
                out.addfile(info, stream)
        with image_tar.open("rb") as stream:
            client.images.load(stream)
        return str(client.images.get(tag).id)
    except (docker.errors.DockerException, OSError) as exc:
        raise BaseImageError(f"loading {tar_path} as {tag} ({arch}) failed: {exc}") from exc
    finally:
        image_tar.unlink(missing_ok=True)
