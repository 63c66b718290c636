"""Secrets, keys, VCS folders and junk are found in any artifact; certificates and tests are not."""

from __future__ import annotations

import io
import marshal
import tarfile
import zipfile
from pathlib import Path

import pytest

from packmatrix.model.facts import Finding
from packmatrix.reading import artifacts, security
from packmatrix.reading.artifacts import members
from packmatrix.reading.security import scan_artifact, scan_contents, scan_names
from tests.unit.builders import pyz, write_image, write_onefile

BODY = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n"
PRIVATE_KEY = f"-----BEGIN PRIVATE KEY-----\n{BODY}-----END PRIVATE KEY-----\n".encode()
RSA_KEY = f"-----BEGIN RSA PRIVATE KEY-----\n{BODY}-----END RSA PRIVATE KEY-----\n".encode()
CERTIFICATE = f"-----BEGIN CERTIFICATE-----\n{BODY}-----END CERTIFICATE-----\n".encode()
AWS_KEY = b"aws_access_key_id = AKIAZ7XQ3JH5KD2LMN4P\n"


def rules(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(finding.path, finding.rule) for finding in findings]


class TestNames:
    @pytest.mark.parametrize(
        ("name", "rule"),
        [
            ("app/.env", "dotenv"),
            (".env.production", "dotenv"),
            ("home/.ssh/id_rsa", "ssh-private-key"),
            ("certs/server.key", "key-file"),
            (".netrc", "netrc"),
            (".pypirc", "pypirc"),
            ("root/.aws/credentials", "aws-credentials"),
            ("instance/app.sqlite", "database"),
            ("sample_app/.DS_Store", "junk"),
            ("secrets/keystore.p12", "keystore"),
        ],
    )
    def test_rule_by_path(self, name: str, rule: str) -> None:
        """Each kind of file that must not ship is found by its path."""
        assert rules(scan_names([name])) == [(name, rule)]

    @pytest.mark.parametrize(
        "name",
        [
            ".env.example",
            "certifi/cacert.pem",
            "sample_app/id_rsa.py",
            "sample_app/environment.py",
            "tornado/test/test.key",
            "botocore/tests/.env",
            "id_rsa.pub",
            "sample_app/",
        ],
    )
    def test_not_a_finding(self, name: str) -> None:
        """Templates, certificates, look-alike names and test files are not findings."""
        assert scan_names([name]) == []

    def test_git_folder_once(self) -> None:
        """A .git folder is one finding, however many files it holds."""
        names = ["app/.git/HEAD", "app/.git/objects/ab/cdef", "app/.git/config"]
        assert rules(scan_names(names)) == [("app/.git/", "vcs-folder")]

    def test_windows_separators(self) -> None:
        """Backslash paths are read like slash paths."""
        assert rules(scan_names(["app\\.env"])) == [("app/.env", "dotenv")]


class TestContents:
    @pytest.mark.parametrize(
        ("data", "rule", "detail"),
        [
            (PRIVATE_KEY, "private-key", "a PKCS#8 private key"),
            (RSA_KEY, "private-key", "a RSA private key"),
            (AWS_KEY, "aws-access-key", "an AWS access key id AKIAZ7XQ…"),
            (b"ghp_" + b"a1B2c3D4" * 4 + b"e5F6", "github-token", "a GitHub token"),
        ],
    )
    def test_secret_in_bytes(self, data: bytes, rule: str, detail: str) -> None:
        """A private key with its body, an AWS key id or a token is found in any file."""
        assert scan_contents("app/config.py", data) == [
            Finding(path="app/config.py", rule=rule, detail=detail)
        ]

    def test_key_in_json(self) -> None:
        """A private key inside a JSON service-account file (escaped newlines) is found."""
        data = b'{"private_key": "' + PRIVATE_KEY.replace(b"\n", b"\\n") + b'"}'
        assert rules(scan_contents("sa.json", data)) == [("sa.json", "private-key")]

    @pytest.mark.parametrize(
        "data",
        [
            CERTIFICATE,
            b'_SK_START = b"-----BEGIN OPENSSH PRIVATE KEY-----"\n_SK_END = b"-----END"\n',
            b"key = 'AKIAIOSFODNN7EXAMPLE'\n",
            b"PREFIXAKIAZ7XQ3JH5KD2LMN4P\n",
        ],
    )
    def test_no_secret(self, data: bytes) -> None:
        """Certificates, PEM headers in parser code and AWS's example key are not findings."""
        assert scan_contents("pkg/module.py", data) == []

    def test_npmrc_token(self) -> None:
        """An .npmrc is a finding only when it holds a token."""
        token = b"//registry.npmjs.org/:_authToken=npm_abcdef\n"
        assert rules(scan_contents("web/.npmrc", token)) == [("web/.npmrc", "npm-token")]
        assert scan_contents("web/.npmrc", b"registry=https://registry.npmjs.org/\n") == []

    def test_tests_are_ignored(self) -> None:
        """A key inside a dependency's tests folder is a fixture, not a finding."""
        assert scan_contents("urllib3/tests/certs/server.pem", PRIVATE_KEY) == []


class TestArtifacts:
    def test_folder(self, tmp_path: Path) -> None:
        """A folder is scanned by path and content, sorted by path."""
        (tmp_path / "_internal" / "certifi").mkdir(parents=True)
        (tmp_path / "_internal" / "certifi" / "cacert.pem").write_bytes(CERTIFICATE)
        (tmp_path / "_internal" / "server.pem").write_bytes(RSA_KEY)
        (tmp_path / ".env").write_text("SECRET=1\n")
        assert rules(scan_artifact(tmp_path)) == [
            (".env", "dotenv"),
            ("_internal/server.pem", "private-key"),
        ]

    def test_wheel_and_pex(self, tmp_path: Path) -> None:
        """A zip is scanned, with or without a shebang line before it."""
        for shebang in (b"", b"#!/usr/bin/env python3\n"):
            buffer = io.BytesIO()
            with zipfile.ZipFile(buffer, "w") as archive:
                archive.writestr("sample_app/__init__.py", b"")
                archive.writestr("sample_app/settings.py", AWS_KEY)
                archive.writestr("sample_app/.git/HEAD", b"ref: refs/heads/main\n")
            artifact = tmp_path / "artifact.pex"
            artifact.write_bytes(shebang + buffer.getvalue())
            assert rules(scan_artifact(artifact)) == [
                ("sample_app/.git/", "vcs-folder"),
                ("sample_app/settings.py", "aws-access-key"),
            ]

    def test_sdist(self, tmp_path: Path) -> None:
        """A tar.gz is scanned member by member."""
        artifact = tmp_path / "sample_app-1.0.tar.gz"
        with tarfile.open(artifact, "w:gz") as archive:
            for name, data in {"sample_app-1.0/.pypirc": b"", "sample_app-1.0/x.py": b""}.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
        assert rules(scan_artifact(artifact)) == [("sample_app-1.0/.pypirc", "pypirc")]

    def test_onefile(self, tmp_path: Path) -> None:
        """A PyInstaller onefile is scanned by its CArchive TOC names and entries."""
        artifact = write_onefile(
            tmp_path / "app", {"certifi/cacert.pem": CERTIFICATE, "sample_app/.env": b"A=1\n"}
        )
        assert [m.name for m in members(artifact)] == ["certifi/cacert.pem", "sample_app/.env"]
        assert rules(scan_artifact(artifact)) == [("sample_app/.env", "dotenv")]

    def test_frozen_module(self, tmp_path: Path) -> None:
        """A key among a frozen module's constants (inside the onefile's PYZ) is found."""
        code = marshal.dumps(compile("KEY_ID = 'AKIAZ7XQ3JH5KD2LMN4P'\n", "settings.py", "exec"))
        artifact = write_onefile(tmp_path / "app", {"PYZ.pyz": pyz({"sample_app.settings": code})})
        assert rules(scan_artifact(artifact)) == [
            ("PYZ.pyz/sample_app/settings.pyc", "aws-access-key")
        ]

    def test_image_layer_deleted_later(self, tmp_path: Path) -> None:
        """A secret a later layer deletes is still found in the layer that ships it."""
        artifact = write_image(
            tmp_path / "image.tar",
            [{"app/.env": b"A=1\n", "app/main.py": AWS_KEY}, {"app/.wh..env": b""}],
        )
        findings = scan_artifact(artifact)
        assert rules(findings) == [
            ("layer0/layer.tar/app/.env", "dotenv"),
            ("layer0/layer.tar/app/main.py", "aws-access-key"),
        ]
        assert "deleted by layer layer1/layer.tar" in findings[0].detail
        assert "deleted" not in findings[1].detail

    def test_clean_artifact(self, tmp_path: Path) -> None:
        """An artifact with nothing to hide has no findings."""
        (tmp_path / "app.py").write_text("print('hi')\n")
        assert scan_artifact(tmp_path) == []


class TestLargeMembers:
    def test_large_member_is_named_but_never_read(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A member over the size limit is checked by name only: its bytes are not loaded."""
        monkeypatch.setattr(security, "MAX_SCAN_BYTES", 100)
        loaded: list[str] = []
        read = artifacts.Member.read

        def spy(member: artifacts.Member) -> bytes:
            loaded.append(member.name)
            return read(member)

        monkeypatch.setattr(artifacts.Member, "read", spy)
        artifact = tmp_path / "a.whl"
        key = (
            b"-----BEGIN RSA PRIVATE KEY-----\n" + b"A" * 200 + b"\n-----END RSA PRIVATE KEY-----\n"
        )
        with zipfile.ZipFile(artifact, "w") as archive:
            archive.writestr("big.bin", key)
            archive.writestr("pkg/.env", b"X=1")
        assert [f.path for f in scan_artifact(artifact)] == ["pkg/.env"]
        assert loaded == ["pkg/.env"]
