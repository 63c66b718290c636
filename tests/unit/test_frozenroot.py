"""The docker-frozen root without debootstrap: which packages it keeps, how dpkg's status file is
cut down and counted, and a slim copy of a small merged-/usr root made here."""

from __future__ import annotations

import os
from pathlib import Path

from packmatrix.container import frozenroot

STATUS = """\
Package: base-files
Status: install ok installed
Pre-Depends: mawk | awk
Version: 12.4

Package: libc6
Status: install ok installed
Depends: libgcc-s1
Version: 2.36-9

Package: zlib1g
Status: install ok installed
Depends: libc6 (>= 2.14)

Package: libgcc-s1
Status: install ok installed
Depends: gcc-12-base (= 12.2.0-14), libc6 (>= 2.35)
Description: GCC support library
 It continues here.

Package: gcc-12-base
Status: install ok installed

Package: dash
Status: install ok installed
Pre-Depends: libc6 (>= 2.34)
Depends: debianutils (>= 5.6-0.1), dpkg (>= 1.19.1)

Package: dpkg
Status: install ok installed
Depends: tar (>= 1.28-1)

Package: tar
Status: install ok installed

Package: mawk
Status: install ok installed
Provides: awk

Package: netbase
Status: install ok installed

Package: perl-base
Status: install ok installed

Package: removed-one
Status: deinstall ok config-files
"""


class TestStatus:
    def test_counts_installed_packages_only(self) -> None:
        """A package removed with its configuration kept is not counted."""
        assert frozenroot.count_installed(STATUS) == 11

    def test_continuation_lines_stay_with_their_field(self) -> None:
        found = {p["Package"]: p for p in frozenroot.paragraphs(STATUS)}
        assert found["libgcc-s1"]["Description"].endswith("It continues here.")

    def test_keeps_glibc_the_shell_and_what_they_need(self) -> None:
        """Dependencies are followed (versions ignored); what only maintainer scripts need
        (dpkg and what it brings, mawk) is left out, and so is all the rest."""
        kept = frozenroot.closure(frozenroot.installed(STATUS), frozenroot.KEEP)
        assert kept == [
            "base-files", "dash", "gcc-12-base", "libc6", "libgcc-s1", "netbase", "zlib1g"
        ]  # fmt: skip


def _package(root: Path, name: str, files: dict[str, str]) -> None:
    info = root / "var/lib/dpkg/info"
    info.mkdir(parents=True, exist_ok=True)
    listed = ["/."]
    for path, text in files.items():
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        listed += [
            "/" + "/".join(path.strip("/").split("/")[:i]) for i in range(1, path.count("/"))
        ]
        listed.append(path)
    (info / f"{name}.list").write_text("\n".join(listed) + "\n")


def test_slim_copy_of_a_merged_usr_root(tmp_path: Path) -> None:
    """Only the kept packages' files are copied, through the /lib → usr/lib link as in the
    full root; links stay links; the status file lists the kept packages; the app's user and
    a world-writable /tmp are there."""
    full = tmp_path / "full"
    (full / "usr/lib").mkdir(parents=True)
    (full / "usr/bin").mkdir(parents=True)
    os.symlink("usr/lib", full / "lib")
    os.symlink("usr/bin", full / "bin")
    _package(full, "libc6", {"/lib/x86_64-linux-gnu/libc.so.6": "libc"})
    _package(full, "dash", {"/bin/dash": "dash"})
    os.symlink("dash", full / "usr/bin/sh")
    (full / "var/lib/dpkg/info/dash.list").write_text("/.\n/bin\n/bin/dash\n/bin/sh\n")
    _package(full, "perl-base", {"/usr/bin/perl": "perl"})
    for name in ("base-files", "netbase", "gcc-12-base", "libgcc-s1", "zlib1g"):
        _package(full, name, {})
    (full / "var/lib/dpkg/status").write_text(STATUS)
    slim = tmp_path / "slim"

    kept = frozenroot.slim_copy(full, slim)

    assert kept == ["base-files", "dash", "gcc-12-base", "libc6", "libgcc-s1", "netbase", "zlib1g"]
    assert (slim / "lib").is_symlink()
    assert (slim / "usr/lib/x86_64-linux-gnu/libc.so.6").read_text() == "libc"
    assert os.readlink(slim / "usr/bin/sh") == "dash"
    assert not (slim / "usr/bin/perl").exists()
    status = (slim / "var/lib/dpkg/status").read_text()
    assert frozenroot.count_installed(status) == 7
    assert "perl-base" not in status
    assert f"app:x:{frozenroot.UID}:" in (slim / "etc/passwd").read_text()
    assert (slim / "tmp").stat().st_mode & 0o7777 == 0o1777
