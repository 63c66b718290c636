"""Accountable artifacts: findings by whose they are, what is inside, reproducible rewrites."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from packmatrix.container import reprodimage
from packmatrix.container.engine import BUILT_BY_LABEL
from packmatrix.formats.sdist import normalize_sdist
from packmatrix.model.facts import SecurityFacts
from packmatrix.reading import inventory, ospackages
from packmatrix.reading.archive_diff import gzip_header
from packmatrix.reading.security import scan_artifact
from packmatrix.steps.inspection import read_inside
from tests.unit.builders import tar_bytes, write_image

KEY_BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n"
PEM = f"-----BEGIN PRIVATE KEY-----\n{KEY_BODY}-----END PRIVATE KEY-----\n".encode()
LIBRARY = b"\x7fELF\x02\x01\x01" + b"\0" * 57 + PEM  # an ELF shared object with a test vector
GNUTLS = "usr/lib/x86_64-linux-gnu/libgnutls.so.30"
STATUS = b"""Package: libgnutls30
Status: install ok installed
Architecture: amd64
Source: gnutls28
Version: 3.7.9-2+deb12u3
Description: GNU TLS library
 a continuation line: Package: not-a-package

Package: removed-one
Status: deinstall ok config-files
Version: 1.0

Package: base-files
Status: install ok installed
Architecture: amd64
Version: 12.4+deb12u5
"""
STEPS = ["/bin/sh -c #(nop) ADD file:abc in / ", "/bin/sh -c #(nop) COPY dir:def in /opt/app "]


def base_layer() -> dict[str, bytes]:
    return {
        GNUTLS: LIBRARY,
        "var/lib/dpkg/status": STATUS,
        "var/lib/dpkg/info/libgnutls30:amd64.list": f"/.\n/usr\n/{GNUTLS}\n".encode(),
    }


def diff_id(layer: dict[str, bytes]) -> str:
    return f"sha256:{hashlib.sha256(tar_bytes(layer)).hexdigest()}"


class TestFindingsByWhoseTheyAre:
    def test_base_image_key_material_is_the_base_images(self, tmp_path: Path) -> None:
        """A key compiled into a Debian library of the base layer is the base image's, named
        with its package, and is not a 'private key'; the app's own secret stays the app's."""
        layers = [base_layer(), {"opt/app/.env": b"TOKEN=1\n"}]
        image = write_image(tmp_path / "image.tar", layers, steps=STEPS)
        found = scan_artifact(image, [diff_id(layers[0])])
        facts = SecurityFacts.of(found, [])
        assert [(f.rule, f.layer, f.package) for f in facts.base_findings] == [
            ("library-key-material", "base image: ADD file:abc in /", "libgnutls30")
        ]
        assert [(f.rule, f.layer, f.inherited) for f in facts.findings] == [
            ("dotenv", "COPY dir:def in /opt/app", False)
        ]
        assert not facts.clean
        assert SecurityFacts.from_json(facts.to_json()) == facts

    def test_a_clean_app_on_a_base_with_findings_is_clean(self, tmp_path: Path) -> None:
        """The base image's findings are shown apart and do not make the app's check fail."""
        layers = [{**base_layer(), "root/.netrc": b"machine x"}, {"opt/app/main.py": b"print()"}]
        image = write_image(tmp_path / "image.tar", layers, steps=STEPS)
        facts = SecurityFacts.of(scan_artifact(image, [diff_id(layers[0])]), [])
        assert facts.clean
        assert sorted(f.rule for f in facts.base_findings) == ["library-key-material", "netrc"]

    def test_a_key_in_a_library_no_package_owns_is_still_a_key(self, tmp_path: Path) -> None:
        """Only a distribution package's library is excused: a key in the app's .so is flagged."""
        layers = [base_layer(), {"opt/app/_native.so": LIBRARY}]
        image = write_image(tmp_path / "image.tar", layers, steps=STEPS)
        facts = SecurityFacts.of(scan_artifact(image, [diff_id(layers[0])]), [])
        assert [(f.rule, f.package) for f in facts.findings] == [("private-key", None)]


class TestOsPackages:
    def test_installed_packages_from_dpkg_status(self) -> None:
        """Only installed packages count; continuation lines are not fields."""
        found = ospackages.installed(STATUS.decode())
        assert [(p.name, p.version, p.source) for p in found] == [
            ("base-files", "12.4+deb12u5", None),
            ("libgnutls30", "3.7.9-2+deb12u3", "gnutls28"),
        ]
        assert found[1].purl == "pkg:deb/debian/libgnutls30@3.7.9-2%2Bdeb12u3?arch=amd64"

    def test_owner_across_the_usr_merge(self) -> None:
        """A file listed under /lib is found under /usr/lib and the other way round."""
        owned = ospackages.owners([("var/lib/dpkg/info/libc6:amd64.list", b"/lib/x/libc.so.6\n")])
        assert ospackages.owner(owned, "usr/lib/x/libc.so.6") == "libc6"
        assert ospackages.owner(owned, "lib/x/libc.so.6") == "libc6"
        assert ospackages.owner(owned, "usr/lib/x/other.so") is None


class TestInventory:
    def test_distributions_in_a_zipapp(self, tmp_path: Path) -> None:
        """Metadata files are found wherever the zip keeps them; vendored copies are marked."""
        path = tmp_path / "app.pyz"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("site-packages/Flask-3.1.3.dist-info/METADATA", metadata("Flask"))
            archive.writestr(
                "site-packages/setuptools/_vendor/zipp-3.19.2.dist-info/METADATA",
                metadata("zipp", "3.19.2"),
            )
        found = inventory.read(path)
        assert [(d.name, d.version, d.vendored) for d in found.distributions] == [
            ("Flask", "3.1.3", False),
            ("zipp", "3.19.2", True),
        ]
        assert [d.name for d in found.installed()] == ["Flask"]

    def test_image_packages_and_layers(self, tmp_path: Path) -> None:
        """An image's dpkg status gives its OS packages; a venv in the app layer is the app's."""
        dist = "opt/venv/lib/python3.11/site-packages/flask-3.1.3.dist-info/METADATA"
        layers = [base_layer(), {dist: metadata("Flask")}]
        image = write_image(tmp_path / "image.tar", layers, steps=STEPS)
        found = inventory.read(image, [diff_id(layers[0])])
        assert [p.name for p in found.os_packages] == ["base-files", "libgnutls30"]
        assert [(d.location, d.layer, d.base) for d in found.installed()] == [
            (dist, "COPY dir:def in /opt/app", False)
        ]

    def test_a_distribution_only_found_inside_joins_the_lock_check(self) -> None:
        """What the format's reading named and what was found inside are checked together."""
        assert read_inside(["flask==3.1.3"], ["evil==1.0", "flask==3.1.3"]) == [
            "evil==1.0",
            "flask==3.1.3",
        ]
        assert read_inside(None, []) is None


def metadata(name: str, version: str = "3.1.3") -> bytes:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nlong text\n".encode()


class TestReproducibleImage:
    def test_two_builds_differing_in_time_give_one_image(self, tmp_path: Path) -> None:
        """Layer times, the config's times and the build container are what the rewrite fixes;
        the base layer is kept byte for byte, so its diff id still names the base."""
        layers = [base_layer(), {"opt/app/b": b"2", "opt/app/a": b"1"}]
        first = write_image(tmp_path / "1.tar", layers, steps=STEPS, mtime=[0, 1_900_000_000])
        second = write_image(tmp_path / "2.tar", layers, steps=STEPS, mtime=[0, 1_900_000_999])
        for path, run in ((first, "run-1"), (second, "run-2")):  # the build's label, per run
            with_label(path, f"/bin/sh -c #(nop)  LABEL {BUILT_BY_LABEL}={run}")
        base = [diff_id(layers[0])]
        ids = [
            reprodimage.rewrite(path, tmp_path / f"out{n}.tar", base, 1_700_000_000)
            for n, path in enumerate((first, second))
        ]
        assert ids[0] == ids[1]
        assert (tmp_path / "out0.tar").read_bytes() == (tmp_path / "out1.tar").read_bytes()
        with tarfile.open(tmp_path / "out0.tar") as image:
            config = json.loads(_read(image, f"{ids[0].removeprefix('sha256:')}.json"))
            manifest = json.loads(_read(image, "manifest.json"))
            app_layer = io.BytesIO(_read(image, manifest[0]["Layers"][1]))
            with tarfile.open(fileobj=app_layer) as app:
                listed = [(i.name, i.mtime) for i in app.getmembers()]
            assert listed == [
                ("opt/app/a", 1_700_000_000),
                ("opt/app/b", 1_700_000_000),
            ]
        assert config["rootfs"]["diff_ids"][0] == base[0]
        assert config["created"] == "2023-11-14T22:13:20Z"
        assert config["history"][0]["created"] == "2026-01-01T00:00:00Z"  # the base's own
        assert config["history"][1]["created"] == "2023-11-14T22:13:20Z"
        assert "container" not in config
        assert [entry["created_by"] for entry in config["history"]] == STEPS
        assert manifest[0]["RepoTags"] is None


def with_label(path: Path, step: str) -> None:
    """Add the run's label to a saved image's config, and the empty history entry setting it."""
    with tarfile.open(path) as image:
        files = {info.name: _read(image, info.name) for info in image.getmembers()}
    config = json.loads(files["config.json"])
    config["config"]["Labels"] = {BUILT_BY_LABEL: step.rpartition("=")[2]}
    config["history"].append(
        {"created": "2026-01-09T00:00:00Z", "created_by": step, "empty_layer": True}
    )
    files["config.json"] = json.dumps(config).encode()
    path.write_bytes(tar_bytes(files))


def _read(image: tarfile.TarFile, name: str) -> bytes:
    stream = image.extractfile(name)
    assert stream is not None
    return stream.read()


class TestNormalizedSdist:
    @pytest.fixture(name="sdists")
    def _sdists(self, tmp_path: Path) -> list[Path]:
        """Two setuptools-like sdists of one tree: built at two times, PKG-INFO stamped then."""
        made = []
        for n, now in enumerate((1_800_000_000, 1_800_000_777)):
            raw = io.BytesIO()
            with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
                for name, mtime, data in [
                    ("app-1.0/src/app.py", 1_600_000_000, b"print()\n"),
                    ("app-1.0/PKG-INFO", now, b"Name: app\nVersion: 1.0\n"),
                ]:
                    info = tarfile.TarInfo(name)
                    info.size, info.mtime, info.mode, info.uname = len(data), mtime, 0o644, "me"
                    archive.addfile(info, io.BytesIO(data))
            path = tmp_path / f"{n}" / "app-1.0.tar.gz"
            path.parent.mkdir()
            with path.open("wb") as out, gzip.GzipFile("app-1.0.tar", "wb", 9, out, now) as gz:
                gz.write(raw.getvalue())
            made.append(path)
        return made

    def test_repacked_sdists_are_identical(self, sdists: list[Path]) -> None:
        """The build time in the gzip header and in generated files is all that differed."""
        assert sdists[0].read_bytes() != sdists[1].read_bytes()
        for path in sdists:
            normalize_sdist(path, 1_700_000_000)
        assert sdists[0].read_bytes() == sdists[1].read_bytes()
        assert gzip_header(sdists[0].read_bytes())["mtime"] == 1_700_000_000

    def test_nothing_a_user_relies_on_changes(self, sdists: list[Path]) -> None:
        """Members, their order, bytes, modes and owners are kept; older times too."""
        before = _listing(sdists[0])
        normalize_sdist(sdists[0], 1_700_000_000)
        after = _listing(sdists[0])
        assert [row[:-1] for row in after] == [row[:-1] for row in before]
        assert [row[-1] for row in after] == [1_600_000_000, 1_700_000_000]


def _listing(path: Path) -> list[tuple[str, bytes, int, str, int]]:
    with tarfile.open(path) as archive:
        return [
            (i.name, _read(archive, i.name), i.mode, i.uname, int(i.mtime))
            for i in archive.getmembers()
        ]
