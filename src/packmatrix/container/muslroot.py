"""A minimal musl system, with no glibc at all: the portability grid's ``musl`` target, which
stands in for Alpine where no registry can be reached.

It is made offline from two of Debian's packages, the way debootstrap starts a root: ``apt-get
download`` fetches ``musl`` (its loader ``/lib/ld-musl-x86_64.so.1``, which is its libc too) and
``busybox-static`` (a shell and the usual commands, linked statically), ``dpkg-deb -x`` unpacks
them, every busybox command gets its link (``/bin/sh``, ``/usr/bin/env``…), and ``/etc/passwd``
names ``nobody``, who runs an artifact. The root is imported into the engine like the Debian
targets, and checked: ``sh`` must run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from packmatrix.container.baseimage import connect_docker, describe, import_checked
from packmatrix.container.debian import BaseImageError, remove_scratch
from packmatrix.core import procs
from packmatrix.errors import StepFailed

PACKAGES: Final = ("musl", "busybox-static")
CHANGES: Final = ("ENV PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", 'CMD ["sh"]')
PASSWD: Final = (
    "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
)
GROUP: Final = "root:x:0:\nnogroup:x:65534:\n"
STEP_TIMEOUT: Final = 300.0


def build_musl_image(*, tag: str, log: Callable[[str], None]) -> str:
    """Make the musl root and import it as ``tag``; the image's id. Needs apt-get (with a
    Debian mirror that has the two packages) and dpkg-deb, not root."""
    started = time.perf_counter()
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            raise BaseImageError(f"the musl target needs {tool} (a Debian or Ubuntu host)")
    client = connect_docker()
    try:
        scratch = Path(tempfile.mkdtemp(prefix="packmatrix-musl-"))
        try:
            rootfs = scratch / "rootfs"
            log(f"apt-get download {' '.join(PACKAGES)}, unpacked into {rootfs}")
            make_root(scratch, rootfs)
            image_id = import_checked(client, rootfs, tag, CHANGES, log=log)
        finally:
            remove_scratch(scratch, log)
        size = describe(client, image_id)["size"]
    finally:
        client.close()
    log(f"built {tag}: {size / 1e6:.1f} MB in {time.perf_counter() - started:.0f} s")
    return image_id


def make_root(scratch: Path, rootfs: Path) -> None:
    """Download and unpack the packages into ``rootfs``, and make it a system ``sh`` runs in."""
    debs = scratch / "debs"
    debs.mkdir()
    env = {**os.environ, "LC_ALL": "C"}
    log_path = scratch / "musl.log"
    sandbox = "-oAPT::Sandbox::User=root"  # the scratch folder is root's
    try:
        procs.run(
            ["apt-get", sandbox, "download", *PACKAGES],
            cwd=debs, env=env, log=log_path, timeout=STEP_TIMEOUT, what="apt-get download",
        )  # fmt: skip
        for deb in sorted(debs.glob("*.deb")):
            procs.run(
                ["dpkg-deb", "-x", str(deb), str(rootfs)],
                cwd=scratch, env=env, log=log_path, timeout=STEP_TIMEOUT, what="dpkg-deb",
            )  # fmt: skip
        listing = scratch / "applets.log"
        procs.run(
            [str(rootfs / "bin" / "busybox"), "--list-full"],
            cwd=scratch, env=env, log=listing, timeout=STEP_TIMEOUT, what="busybox --list-full",
        )  # fmt: skip
    except StepFailed as exc:
        raise BaseImageError(
            f"the musl target can't be made: {exc.reason} (apt-get needs a Debian mirror "
            f"with {' and '.join(PACKAGES)})",
            log_tail=exc.log_tail,
        ) from None
    lines = listing.read_text(encoding="utf-8").splitlines()
    applets = [line.strip() for line in lines if line.strip() and not line.startswith("$ ")]
    link_applets(rootfs, applets)
    shutil.rmtree(rootfs / "usr" / "share", ignore_errors=True)
    (rootfs / "etc" / "passwd").write_text(PASSWD)
    (rootfs / "etc" / "group").write_text(GROUP)
    for folder in ("tmp", "root", "proc", "sys", "dev"):
        (rootfs / folder).mkdir(exist_ok=True)
    (rootfs / "tmp").chmod(0o1777)


def link_applets(rootfs: Path, applets: list[str]) -> None:
    """A link to ``/bin/busybox`` for each command (``usr/bin/env``), where no file is."""
    for applet in applets:
        if applet.startswith("/") or ".." in applet.split("/"):
            continue
        path = rootfs / applet
        if path.exists() or path.is_symlink():
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to("/bin/busybox")
