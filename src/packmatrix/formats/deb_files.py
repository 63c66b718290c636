"""The files a ``.deb`` of the app is made of, and the commands its build container runs: no
engine, no process, so each is tested alone.

What the package holds (``Package`` names every path):

- ``/opt/<app>/venv``: a venv made with the suite's ``/usr/bin/python3``, the locked wheels
  installed into it offline with their hashes checked (the dh-virtualenv layout);
- ``/usr/bin/<script>``: a link to the venv's console script;
- ``/lib/systemd/system/<app>.service``: the unit, which runs the script as the system user
  ``<app>`` that ``postinst`` creates, with HOST and PORT from ``/etc/default/<app>`` (a
  conffile, so an admin's edits survive an upgrade);
- ``DEBIAN/control`` whose ``Depends:`` names the one python3 minor the venv was made with:
  a venv is tied to its interpreter, so the package is tied to one Debian suite's python3.

The build needs no network: ``build_commands`` make a venv with the suite's python3, install
the run's wheelhouse with ``--no-index --require-hashes`` and pack the tree with ``dpkg-deb``,
which every Debian root has. Reading the result back (the unit as systemd reads it, dpkg's
refusal) is ``packmatrix.reading.debian_package``'s.
"""

from __future__ import annotations

import email.utils
import gzip
import io
import re
import shlex
import tarfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Final

from packmatrix.core.context import Context
from packmatrix.reading import portability

BUILD: Final = "/build"
"""Where the build container holds its inputs and the package tree (``/build/root``)."""
PIP_WHEEL: Final = f"{BUILD}/pip.whl"
SECTION: Final = "web"
MAINTAINER: Final = "packmatrix <packmatrix@localhost.invalid>"
"""Who the generated package names as its maintainer (a local package: no Debian maintainer)."""
DEBIAN_ARCH: Final[dict[str, str]] = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "armhf"}
"""``platform.machine()`` → dpkg's architecture name."""
OVERRIDES: Final = (
    (
        "dir-or-file-in-opt",
        "a local package of add-on software, not one for the Debian archive: the FHS gives "
        "/opt to such packages, and the venv lives there as dh-virtualenv puts it",
    ),
    (
        "unstripped-binary-or-object",
        "the extension modules of the locked wheels, installed as their authors built them "
        "(byte for byte what the lock's hashes checked)",
    ),
)
"""Lintian tags the package overrides, each with why (lintian lists them as overridden)."""


def debian_version(version: str) -> str:
    """A PEP 440 version as a Debian upstream version: pre-releases sort before the release
    (``1.0rc1`` → ``1.0~rc1``), a local part becomes ``+``."""
    text = re.sub(r"(?<=\d)\.?(a|b|rc|dev)(\d*)", r"~\1\2", version.replace("-", "."))
    return f"{text}-1"


def package_name(name: str) -> str:
    """A Debian package name for an app's normalized name (lowercase, ``[a-z0-9.+-]``)."""
    cleaned = re.sub(r"[^a-z0-9.+-]+", "-", name.lower()).strip("-.+")
    return cleaned if len(cleaned) >= 2 else f"python-{cleaned or 'app'}"


@dataclass(frozen=True, kw_only=True)
class Package:
    """One app's package: its names, the Python it is made for, and where things go."""

    app: str
    """The app's distribution name as the user wrote it (``sample-app``)."""
    name: str
    """The Debian package name, also the system user and the unit's name."""
    version: str
    """The Debian version (``1.0.0-1``)."""
    script: str
    description: str
    python: str
    """The suite's python3 minor the venv is made with (``3.11``)."""
    suite: str
    arch: str
    port: int
    libc: str | None = None
    """The newest glibc the venv's binaries need (``2.14``), when they need one."""
    homepage: str | None = None

    @property
    def prefix(self) -> str:
        return f"/opt/{self.name}"

    @property
    def venv(self) -> str:
        return f"{self.prefix}/venv"

    @property
    def unit_path(self) -> str:
        return f"/lib/systemd/system/{self.name}.service"

    @property
    def default_path(self) -> str:
        return f"/etc/default/{self.name}"

    @property
    def doc(self) -> str:
        return f"/usr/share/doc/{self.name}"

    @property
    def filename(self) -> str:
        return f"{self.name}_{self.version}_{self.arch}.deb"

    @property
    def depends(self) -> str:
        """The exact python3 minor: at least it, and before the next one."""
        major, minor = (int(part) for part in self.python.split(".")[:2])
        libc = f", libc6 (>= {self.libc})" if self.libc else ""
        return f"python3 (>= {major}.{minor}~), python3 (<< {major}.{minor + 1}){libc}"


def control(package: Package, *, installed_kib: int | None) -> str:
    """``DEBIAN/control``; ``Installed-Size`` once the tree is there to measure."""
    summary, *_ = (package.description or f"{package.app}, a Python web service").splitlines()
    summary = re.sub(r"^(a|an|the)\s+", "", summary.strip().rstrip("."), flags=re.I)
    summary = (summary[:1].upper() + summary[1:]) or package.app
    lines = [
        f"Package: {package.name}",
        f"Version: {package.version}",
        f"Architecture: {package.arch}",
        f"Maintainer: {MAINTAINER}",
        *([f"Installed-Size: {installed_kib}"] if installed_kib is not None else []),
        f"Depends: {package.depends}",
        f"Section: {SECTION}",
        "Priority: optional",
        *([f"Homepage: {package.homepage}"] if package.homepage else []),
        f"Description: {summary[:72]}",
        f" {package.app} served by its console script {package.script}, from a venv under",
        f" {package.venv} made with Debian {package.suite}'s python{package.python}, run",
        f" by systemd as the system user {package.name} ({package.name}.service).",
    ]
    return "\n".join(lines) + "\n"


def postinst(package: Package) -> str:
    """Creates the system user, compiles the venv's modules, enables and starts the unit where
    systemd runs (a container has none: there the admin starts it, as packmatrix does)."""
    name, venv, unit = package.name, package.venv, f"{package.name}.service"
    return f"""#!/bin/sh
set -e

if [ "$1" = "configure" ]; then
    # The service's own user: no login, no home, no password.
    if ! getent group {name} >/dev/null; then
        groupadd --system {name}
    fi
    if ! getent passwd {name} >/dev/null; then
        useradd --system --gid {name} --home-dir /nonexistent --no-create-home \\
            --shell /usr/sbin/nologin --comment "{package.app} service" {name}
    fi
    # Byte-code compiled here, as Debian's Python packages are, and removed by prerm: the
    # service's user can't write it, and a pyc valid without checking its source's mtime
    # spares every start a stat.
    {venv}/bin/python -m compileall -q -f -j 0 --invalidation-mode unchecked-hash \\
        {venv}/lib >/dev/null
fi

if [ "$1" = "configure" ] || [ "$1" = "abort-upgrade" ]; then
    if command -v deb-systemd-helper >/dev/null; then
        deb-systemd-helper unmask '{unit}' >/dev/null || true
        if deb-systemd-helper --quiet was-enabled '{unit}'; then
            deb-systemd-helper enable '{unit}' >/dev/null || true
        else
            deb-systemd-helper update-state '{unit}' >/dev/null || true
        fi
    fi
    if [ -d /run/systemd/system ]; then
        systemctl --system daemon-reload >/dev/null || true
        deb-systemd-invoke restart '{unit}' >/dev/null || true
    fi
fi

exit 0
"""


def prerm(package: Package) -> str:
    """Stops the unit where systemd runs; removes what postinst compiled."""
    unit = f"{package.name}.service"
    return f"""#!/bin/sh
set -e

if [ -d /run/systemd/system ] && [ "$1" = "remove" ]; then
    deb-systemd-invoke stop '{unit}' >/dev/null || true
fi
if [ "$1" = "remove" ] || [ "$1" = "upgrade" ] || [ "$1" = "deconfigure" ]; then
    find {package.venv} -name __pycache__ -type d -prune -exec rm -rf {{}} +
fi

exit 0
"""


def postrm(package: Package) -> str:
    """On purge, forgets the unit's enablement (the system user stays, as Debian's do)."""
    unit = f"{package.name}.service"
    return f"""#!/bin/sh
set -e

if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null || true
fi
if [ "$1" = "purge" ] && command -v deb-systemd-helper >/dev/null; then
    deb-systemd-helper purge '{unit}' >/dev/null || true
fi

exit 0
"""


def unit(package: Package) -> str:
    """The systemd unit: the console script as the package's user, configured from
    ``/etc/default/<name>``; hardened the way a network service without state can be."""
    return f"""[Unit]
Description={package.app} (Python web service, packaged by packmatrix)
After=network.target

[Service]
Type=simple
User={package.name}
Group={package.name}
EnvironmentFile={package.default_path}
ExecStart={package.venv}/bin/{package.script}
Restart=on-failure
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes

[Install]
WantedBy=multi-user.target
"""


def default_file(package: Package) -> str:
    """``/etc/default/<name>``: what the unit reads; loopback unless the admin opens it."""
    return f"""# Settings of {package.name}.service, read by systemd (EnvironmentFile=).
# The address and port the service listens on; 0.0.0.0 listens on every interface.
HOST=127.0.0.1
PORT={package.port}
"""


def copyright_file(package: Package, *, year: int) -> str:
    """``/usr/share/doc/<name>/copyright`` (machine-readable); each distribution's licence is
    in its own metadata in the venv."""
    return (
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
        f"Upstream-Name: {package.app}\n\n"
        "Files: *\n"
        f"Copyright: {year} the authors of {package.app} and of the distributions in its venv\n"
        "License: see the distributions' metadata\n"
        f" The licence of each distribution is in its metadata under {package.venv}/lib.\n"
    )


def changelog(package: Package, *, date: str) -> str:
    """``changelog.Debian``: one entry; ``date`` in RFC 5322 form."""
    return (
        f"{package.name} ({package.version}) unstable; urgency=medium\n\n"
        f"  * Packaged by packmatrix from the app's wheel and its locked dependencies.\n\n"
        f" -- {MAINTAINER}  {date}\n"
    )


def lintian_overrides(package: Package) -> str:
    return "".join(f"# {why}\n{package.name}: {tag}\n" for tag, why in OVERRIDES)


def shown_files(package: Package, control_text: str) -> dict[str, str]:
    """The generated files the report shows, by their path in the package."""
    return {
        "DEBIAN/control": control_text,
        "DEBIAN/postinst": postinst(package),
        package.unit_path.lstrip("/"): unit(package),
        package.default_path.lstrip("/"): default_file(package),
    }


# -- the build's inputs ---------------------------------------------------------------------------
def libc_floor(wheels: list[Path]) -> str | None:
    """The newest glibc the wheels' binaries ask for (``2.14``): the package's libc6 Depends."""

    def blobs() -> Iterator[tuple[str, IO[bytes]]]:
        for wheel in wheels:
            with zipfile.ZipFile(wheel) as archive:
                for name in archive.namelist():
                    if name.endswith(".so") or ".so." in name:
                        yield name, io.BytesIO(archive.read(name))

    floor = portability.glibc_floor_of(blobs())
    return floor.version.removeprefix("GLIBC_") if floor.version else None


def summary_of(wheel: Path) -> str:
    """The ``Summary:`` of a wheel's metadata (the project's description), or empty."""
    with zipfile.ZipFile(wheel) as archive:
        name = next((n for n in archive.namelist() if n.endswith(".dist-info/METADATA")), None)
        text = archive.read(name).decode("utf-8", errors="replace") if name else ""
    for line in text.splitlines():
        if not line.strip():
            break
        if line.startswith("Summary:"):
            return line.split(":", 1)[1].strip()
    return ""


def build_commands(package: Package, app_wheels: list[str]) -> list[list[str]]:
    """What the build container runs, in order: the exact commands the report shows.

    pip runs from the suite's own pip wheel (``python3-pip-whl``, which ``python3-venv`` brings,
    what ensurepip installs from) with the venv's interpreter, so it installs into the venv
    without being installed there: the venv ships only the locked distributions and the app."""
    venv, root = package.venv, f"{BUILD}/root"
    pip = [f"{venv}/bin/python", PIP_WHEEL + "/pip", "install"]
    quiet = ["--no-cache-dir", "--disable-pip-version-check", "--no-index"]
    installed = (
        f"s/^Installed-Size: .*/Installed-Size: "
        f"$(du -sk --apparent-size --exclude=DEBIAN {root} | cut -f1)/"
    )
    return [
        ["/usr/bin/python3", "-m", "venv", "--without-pip", venv],
        ["sh", "-c", f"ln -s /usr/share/python-wheels/pip-*.whl {PIP_WHEEL}"],
        [
            *pip,
            *quiet,
            "--require-hashes",
            "--find-links",
            f"{BUILD}/wheelhouse",
            "--requirement",
            f"{BUILD}/wheelhouse/requirements.lock",
        ],
        [*pip, *quiet, "--no-deps", *(f"{BUILD}/app/{name}" for name in app_wheels)],
        [
            "find",
            venv,
            "-name",
            "__pycache__",
            "-type",
            "d",
            "-prune",
            "-exec",
            "rm",
            "-rf",
            "{}",
            "+",
        ],
        ["mkdir", "-p", f"{root}{package.prefix}", f"{root}/usr/bin"],
        ["cp", "-a", venv, f"{root}{package.prefix}/"],
        ["ln", "-s", f"{venv}/bin/{package.script}", f"{root}/usr/bin/{package.script}"],
        ["sh", "-c", f'sed -i "{installed}" {root}/DEBIAN/control'],
        [
            "dpkg-deb",
            "--root-owner-group",
            "-Zxz",
            "--build",
            root,
            f"{BUILD}/out/{package.filename}",
        ],
    ]


def script_of(commands: list[list[str]]) -> str:
    return "set -eu\nmkdir -p /build/out\n" + "".join(shlex.join(argv) + "\n" for argv in commands)


def tree_files(package: Package, ctx: Context) -> dict[str, tuple[bytes, int]]:
    """The package's generated files under ``root/`` (path → content, mode), before the venv."""
    epoch = int(ctx.source_date_epoch)
    when = email.utils.formatdate(epoch, usegmt=False)
    year = time.gmtime(epoch).tm_year
    doc = package.doc.lstrip("/")

    def text(value: str) -> bytes:
        return value.encode("utf-8")

    return {
        "root/DEBIAN/control": (text(control(package, installed_kib=0)), 0o644),
        "root/DEBIAN/conffiles": (text(package.default_path + "\n"), 0o644),
        "root/DEBIAN/postinst": (text(postinst(package)), 0o755),
        "root/DEBIAN/prerm": (text(prerm(package)), 0o755),
        "root/DEBIAN/postrm": (text(postrm(package)), 0o755),
        f"root{package.unit_path}": (text(unit(package)), 0o644),
        f"root{package.default_path}": (text(default_file(package)), 0o644),
        f"root/{doc}/copyright": (text(copyright_file(package, year=year)), 0o644),
        f"root/{doc}/changelog.Debian.gz": (
            gzip.compress(text(changelog(package, date=when)), 9, mtime=0),
            0o644,
        ),
        f"root/usr/share/lintian/overrides/{package.name}": (
            text(lintian_overrides(package)),
            0o644,
        ),
    }


def tar_with_modes(files: dict[str, tuple[bytes, int]], *, mtime: int = 0) -> bytes:
    """A tar of ``files`` with their modes and every parent folder (0755), owned by root,
    dated ``mtime`` (the package's files: SOURCE_DATE_EPOCH)."""
    buffer = io.BytesIO()
    folders = sorted({str(p) for name in files for p in Path(name).parents if str(p) != "."})
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for folder in folders:
            info = tarfile.TarInfo(folder)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, mtime
            tar.addfile(info)
        for name, (data, mode) in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, mtime
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()
