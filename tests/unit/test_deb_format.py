"""The deb format without an engine: the files it generates (control, postinst, unit), the unit
read back as systemd would, dpkg's refusal in one line and the grid's prediction from Depends."""

from __future__ import annotations

import dataclasses
import gzip
import io
import json
import lzma
import tarfile
from pathlib import Path
from typing import cast

import pytest

from packmatrix.core.context import Context
from packmatrix.formats import deb, deb_files
from packmatrix.formats.base import Built
from packmatrix.formats.deb import grid_script, start_of
from packmatrix.formats.deb_files import build_commands, tar_with_modes
from packmatrix.grid import judge
from packmatrix.model.records import Portability
from packmatrix.model.results import FormatResult
from packmatrix.reading import debian_package
from packmatrix.reading.debian_package import ar_members, findings, read_deb

PACKAGE = deb_files.Package(
    app="sample-app",
    name="sample-app",
    version="1.0.0-1",
    script="sample-app",
    description="A small, stateless Flask app.",
    python="3.11",
    suite="bookworm",
    arch="amd64",
    port=8000,
)

BULLSEYE_REFUSAL = """\
Selecting previously unselected package sample-app.
Unpacking sample-app (1.0.0-1) ...
dpkg: dependency problems prevent configuration of sample-app:
 sample-app depends on python3 (>= 3.11~); however:
  Version of python3 on system is 3.9.2-3.

dpkg: error processing package sample-app (--install):
 dependency problems - leaving unconfigured
Errors were encountered while processing:
 sample-app
"""


class TestGeneratedFiles:
    def test_control_depends_on_the_python3_minor_the_venv_was_made_with(self) -> None:
        """Depends admits 3.11.x (and its pre-releases, ``~``) and nothing from 3.12 on."""
        text = deb_files.control(PACKAGE, installed_kib=5432)
        fields = dict(line.split(": ", 1) for line in text.splitlines() if not line[0].isspace())
        assert fields["Depends"] == "python3 (>= 3.11~), python3 (<< 3.12)"
        assert fields["Package"] == "sample-app"
        assert fields["Architecture"] == "amd64"
        assert fields["Installed-Size"] == "5432"
        assert fields["Description"] == "Small, stateless Flask app"  # lintian: no article
        assert text.endswith("\n")

    def test_depends_names_the_glibc_the_binaries_need(self) -> None:
        """With extension modules inside, libc6 joins the Depends (lintian asks for it)."""
        package = dataclasses.replace(PACKAGE, libc="2.14")
        assert package.depends == "python3 (>= 3.11~), python3 (<< 3.12), libc6 (>= 2.14)"

    def test_control_lines_are_debian_fields_or_description_continuations(self) -> None:
        """Every line is ``Field: value`` or a continuation starting with a space (dpkg-deb
        refuses anything else), and no line is empty."""
        for line in deb_files.control(PACKAGE, installed_kib=None).splitlines():
            assert line.startswith(" ") or ": " in line
            assert line.strip()

    def test_postinst_creates_the_units_user_and_compiles_the_venv(self) -> None:
        """The system user is made only when missing; the venv's modules are compiled."""
        text = deb_files.postinst(PACKAGE)
        assert text.startswith("#!/bin/sh\nset -e\n")
        assert "if ! getent passwd sample-app" in text
        assert "useradd --system --gid sample-app" in text
        assert "/opt/sample-app/venv/bin/python -m compileall" in text
        assert "--shell /usr/sbin/nologin" in text

    def test_unit_runs_the_venv_script_as_the_package_user_with_etc_default(self) -> None:
        """The unit names the console script in the venv, the user and the environment file."""
        unit = debian_package.parse_unit(deb_files.unit(PACKAGE))
        assert unit.exec_start == ["/opt/sample-app/venv/bin/sample-app"]
        assert unit.user == unit.group == "sample-app"
        assert unit.environment_files == [("/etc/default/sample-app", False)]

    def test_default_file_binds_loopback(self) -> None:
        """Out of the box the service listens on 127.0.0.1 only, at the app's port."""
        env = debian_package.parse_environment_file(deb_files.default_file(PACKAGE))
        assert env == {"HOST": "127.0.0.1", "PORT": "8000"}

    @pytest.mark.parametrize(
        ("pep440", "debian"),
        [("1.0.0", "1.0.0-1"), ("2.1rc1", "2.1~rc1-1"), ("0.3.dev4", "0.3~dev4-1")],
    )
    def test_versions_sort_as_debian_does(self, pep440: str, debian: str) -> None:
        """Pre-releases take a ``~`` so that dpkg sorts them before the release."""
        assert deb_files.debian_version(pep440) == debian

    def test_package_names_are_debian_names(self) -> None:
        assert deb_files.package_name("My_App") == "my-app"
        assert deb_files.package_name("x") == "python-x"

    def test_build_installs_the_lock_offline_with_hashes(self) -> None:
        """The build's pip is offline and checks every hash of the lock; the app goes on top."""
        commands = build_commands(PACKAGE, ["sample_app-1.0.0-py3-none-any.whl"])
        locked = next(argv for argv in commands if "--require-hashes" in argv)
        assert "--no-index" in locked
        assert locked[locked.index("--requirement") + 1] == "/build/wheelhouse/requirements.lock"
        assert locked[:3] == ["/opt/sample-app/venv/bin/python", "/build/pip.whl/pip", "install"]
        assert commands[0] == [
            "/usr/bin/python3",
            "-m",
            "venv",
            "--without-pip",
            "/opt/sample-app/venv",
        ]
        assert commands[-1][:4] == ["dpkg-deb", "--root-owner-group", "-Zxz", "--build"]
        assert commands[-3][:3] == ["ln", "-s", "/opt/sample-app/venv/bin/sample-app"]


class TestReadingTheUnit:
    def test_exec_start_prefixes_continuations_and_comments(self) -> None:
        """systemd's ``-``/``@``/``+`` prefixes go, a backslash continues a line, ``;`` and
        ``#`` lines are comments, other sections are ignored."""
        text = (
            "[Unit]\nExecStart=/wrong\n\n[Service]\n; a comment\n# another\n"
            "User=web\nEnvironmentFile=-/etc/default/web\nEnvironment=A=1 'B=two words'\n"
            'ExecStart=-/usr/bin/web --bind "${HOST}:${PORT}" \\\n  $EXTRA\n'
        )
        unit = debian_package.parse_unit(text)
        assert unit.exec_start == ["/usr/bin/web", "--bind", "${HOST}:${PORT}", "$EXTRA"]
        assert unit.user == "web"
        assert unit.group is None
        assert unit.environment_files == [("/etc/default/web", True)]
        assert unit.environment == {"A": "1", "B": "two words"}

    def test_expansion_as_systemd_does_it(self) -> None:
        """``${VAR}`` inside a word; a lone ``$VAR`` splits into words; unset is empty."""
        argv = ["/usr/bin/web", "--bind", "${HOST}:${PORT}", "$EXTRA", "$NONE"]
        env = {"HOST": "127.0.0.1", "PORT": "8000", "EXTRA": "-v  --quiet"}
        assert debian_package.expand(argv, env) == [
            "/usr/bin/web",
            "--bind",
            "127.0.0.1:8000",
            "-v",
            "--quiet",
        ]

    @pytest.mark.parametrize(
        ("text", "problem"),
        [
            ("[Service]\nUser=x\n", "0 ExecStart= lines"),
            ("[Service]\nExecStart=/a\nExecStart=/b\n", "2 ExecStart= lines"),
            ("[Service]\nExecStart=web\n", "absolute path"),
            ("[Service]\nExecStart=/a 'unclosed\n", "can't be split"),
        ],
    )
    def test_a_unit_it_cannot_start_from_says_why(self, text: str, problem: str) -> None:
        with pytest.raises(debian_package.UnitError, match=problem):
            debian_package.parse_unit(text)

    def test_an_empty_exec_start_resets_the_list(self) -> None:
        """As in systemd (a drop-in's ``ExecStart=`` before its own)."""
        text = "[Service]\nExecStart=/a\nExecStart=\nExecStart=/b --x\n"
        assert debian_package.parse_unit(text).exec_start == ["/b", "--x"]

    def test_environment_file_quotes_comments_and_export(self) -> None:
        text = "# c\n; c\nHOST = '0.0.0.0'\nexport PORT=\"9000\"\nnot a line\nEMPTY=\n"
        assert debian_package.parse_environment_file(text) == {
            "HOST": "0.0.0.0",
            "PORT": "9000",
            "EMPTY": "",
        }


class TestLintian:
    def test_findings_of_one_tag_on_many_paths_are_one_line(self) -> None:
        """An overridden tag that names every file of the venv is counted, not listed."""
        text = "running with root privileges is not recommended!\n" + "".join(
            f"O: app: dir-or-file-in-opt [opt/app/f{n}]\n" for n in range(5)
        )
        text += "W: app: no-manual-page [usr/bin/app]\nN: an explanation\nW: app: bare-tag\n"
        assert findings(text) == [
            "O: app: dir-or-file-in-opt [5 paths, e.g. opt/app/f0]",
            "W: app: no-manual-page [usr/bin/app]",
            "W: app: bare-tag",
        ]


class TestDpkgAndTheGrid:
    def test_dpkg_refusal_names_the_unmet_dependency(self) -> None:
        assert debian_package.dpkg_reason(BULLSEYE_REFUSAL) == (
            "sample-app depends on python3 (>= 3.11~): version of python3 on system is 3.9.2-3"
        )
        reason = judge.reason_from_output(BULLSEYE_REFUSAL)
        assert reason.startswith("dpkg: sample-app depends on python3 (>= 3.11~)")

    def test_dpkg_refusal_without_python3(self) -> None:
        output = (
            " sample-app depends on python3 (>= 3.11~); however:\n"
            "  Package python3 is not installed.\n"
            " sample-app depends on python3 (<< 3.12); however:\n"
            "  Package python3 is not installed.\n"
        )
        assert debian_package.dpkg_reason(output) == (
            "sample-app depends on python3 (>= 3.11~), python3 (<< 3.12): "
            "package python3 is not installed"
        )

    def test_other_output_is_no_dpkg_refusal(self) -> None:
        assert debian_package.dpkg_reason("sample-app: serving on http://0.0.0.0:8000\n") is None

    @pytest.mark.parametrize(
        ("python", "runs", "words"),
        [
            ("3.11", True, "meets Depends"),
            ("3.9", False, "the target's python3 is 3.9"),
            ("3.13", False, "the target's python3 is 3.13"),
            (None, False, "the target has no python3"),
        ],
    )
    def test_prediction_from_depends(self, python: str | None, runs: bool, words: str) -> None:
        """The grid predicts dpkg's answer from the Depends line alone."""
        facts = Portability(needs="Debian bookworm's python3", depends=PACKAGE.depends)
        predicted = judge.predict(facts, glibc="2.36", python=python)
        assert predicted is not None
        assert predicted.runs is runs
        assert words in predicted.why


def _tar_xz(files: dict[str, tuple[bytes, int]]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, (data, mode) in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return lzma.compress(buffer.getvalue())


def _ar(members: dict[str, bytes]) -> bytes:
    out = b"!<arch>\n"
    for name, data in members.items():
        header = f"{name:<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n".encode()
        out += header + data + (b"\n" if len(data) % 2 else b"")
    return out


class TestReadingADeb:
    @pytest.fixture(name="deb")
    def _deb(self, tmp_path: Path) -> Path:
        control = deb_files.control(PACKAGE, installed_kib=1)
        data = {
            "./lib/systemd/system/sample-app.service": (deb_files.unit(PACKAGE).encode(), 0o644),
            "./etc/default/sample-app": (deb_files.default_file(PACKAGE).encode(), 0o644),
        }
        path = tmp_path / PACKAGE.filename
        path.write_bytes(
            _ar(
                {
                    "debian-binary": b"2.0\n",
                    "control.tar.gz": gzip.compress(
                        lzma.decompress(_tar_xz({"./control": (control.encode(), 0o644)}))
                    ),
                    "data.tar.xz": _tar_xz(data),
                }
            )
        )
        return path

    def test_reads_control_and_data(self, deb: Path) -> None:
        control, data = read_deb(deb)
        with data:
            assert "./etc/default/sample-app" in data.getnames()
        assert "Depends: python3 (>= 3.11~), python3 (<< 3.12)" in control["control"]
        assert set(ar_members(deb.read_bytes())) == {
            "debian-binary",
            "control.tar.gz",
            "data.tar.xz",
        }

    def test_start_is_read_from_the_unit_with_its_environment_file(self) -> None:
        argv, env, user = start_of(deb_files.unit(PACKAGE), deb_files.default_file(PACKAGE))
        assert argv == ["/opt/sample-app/venv/bin/sample-app"]
        assert env == {"HOST": "127.0.0.1", "PORT": "8000"}
        assert user == "sample-app"

    def test_grid_script_installs_as_root_then_drops_to_the_units_user(self, deb: Path) -> None:
        """dpkg -i first (set -e: a refusal ends the cell with dpkg's words), then the unit's
        ExecStart under setpriv as its user, the address opened for the engine's publishing."""
        script = grid_script(Built(files=[deb], commands=[], seconds=0.0), "/opt/x/a.deb")
        lines = script.splitlines()
        assert lines[:2] == ["set -e", "dpkg -i /opt/x/a.deb"]
        assert "setpriv --reuid sample-app --regid sample-app --init-groups" in lines[2]
        assert lines[2].endswith("-- /opt/sample-app/venv/bin/sample-app")
        assert "HOST=0.0.0.0" in lines[2]
        assert "PORT=8000" in lines[2]

    def test_not_a_deb(self, tmp_path: Path) -> None:
        path = tmp_path / "x.deb"
        path.write_bytes(b"PK\x03\x04")
        with pytest.raises(ValueError, match="not an ar archive"):
            read_deb(path)


class TestRecords:
    def test_tree_archive_has_modes_parents_and_the_date(self) -> None:
        """Maintainer scripts stay executable, every parent folder is there (dpkg-deb checks
        DEBIAN's mode), and every entry carries SOURCE_DATE_EPOCH (lintian: no ancient file)."""
        data = tar_with_modes(
            {"root/DEBIAN/postinst": (b"#!/bin/sh\n", 0o755), "root/etc/x": (b"", 0o644)},
            mtime=1_700_000_000,
        )
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            members = {member.name: member for member in tar}
        assert members["root/DEBIAN/postinst"].mode == 0o755
        assert members["root/etc/x"].mode == 0o644
        assert members["root/DEBIAN"].isdir()
        assert members["root"].mode == 0o755
        assert {member.mtime for member in members.values()} == {1_700_000_000}

    def test_generated_files_and_package_facts_survive_the_report(self) -> None:
        """The row keeps its generated files, Depends and lintian findings through JSON."""
        result = FormatResult(
            name="deb",
            title="Debian package (.deb)",
            generated_files={"DEBIAN/control": deb_files.control(PACKAGE, installed_kib=1)},
            portability=Portability(
                needs="Debian bookworm's python3",
                depends=PACKAGE.depends,
                lintian=["W: sample-app: no-manual-page [usr/bin/sample-app]"],
            ),
        )
        again = FormatResult.from_json(json.loads(json.dumps(result.to_json())))
        assert again.generated_files == result.generated_files
        assert again.portability is not None
        assert again.portability.depends == PACKAGE.depends
        assert again.portability.lintian == ["W: sample-app: no-manual-page [usr/bin/sample-app]"]


class TestAvailability:
    def test_a_python_no_suite_ships_is_one_line(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """On a host Python no Debian suite ships (3.12: a fault this host can't cause), the row
        is SKIPPED with why, before any engine is asked."""
        monkeypatch.setattr(deb, "host_minor", lambda: "3.12")
        reason = deb.DebFormat().unavailable(cast(Context, None))
        assert reason is not None
        assert reason.startswith("no Debian suite ships Python 3.12")
