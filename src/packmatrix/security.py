"""Things that must never ship inside an artifact: secrets, keys, VCS folders, local junk.

Two kinds of rule: by path (``scan_names``: ``.env``, ``.git/``, ``id_rsa``, ``.netrc``, …) and by
content (``scan_contents``: a PEM private key with its body, an AWS access key id, a token in an
``.npmrc``). ``members`` lists the (name, reader) pairs of a folder, a zip (wheel, pex), a tar
(sdist) or a PyInstaller onefile binary (its CArchive TOC, not the modules inside its PYZ), so
``scan_artifact`` runs both kinds of rule over any artifact.

False positives are kept low on purpose: anything under a ``tests/`` (or ``test/``,
``testing/``, ``testdata/``, ``examples/``) folder is ignored, since dependencies ship dummy keys
there; a ``.pem`` is only a finding when it holds a private key (``certifi/cacert.pem`` holds
certificates); a PEM header alone, as in a parser's source code, is not a key; AWS's documented
example key ids (``AKIAIOSFODNN7EXAMPLE``, ``AKIAEXAMPLE…``) are not keys.
"""

from __future__ import annotations

import os
import re
import tarfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import TypedDict

Reader = Callable[[], bytes | None]
"""A member's bytes, or None when it is larger than MAX_SCAN_BYTES (then it is never read)."""

MAX_SCAN_BYTES = 16 << 20
"""Members larger than this are only checked by name: keys and tokens live in small files."""

IGNORED_FOLDERS = frozenset(
    {"test", "tests", "testing", "testdata", "test_data", "example", "examples"}
)
VCS_FOLDERS = frozenset({".git", ".hg", ".svn"})
SSH_KEYS = frozenset({"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519"})
DOTENV_TEMPLATES = frozenset({"example", "sample", "template", "dist", "defaults"})
HISTORY_FILES = frozenset({".bash_history", ".zsh_history", ".python_history", ".psql_history"})

_NEWLINE = rb"(?:\r?\n|(?:\\r)?\\n)"  # a real newline, or an escaped one inside JSON or a string
_PRIVATE_KEY = re.compile(
    rb"-----BEGIN (?P<kind>[A-Z0-9 ]*?)PRIVATE KEY(?: BLOCK)?-----"
    + _NEWLINE
    + rb"(?:[A-Za-z-]+: [^\r\n\\]*"  # PEM headers such as Proc-Type: 4,ENCRYPTED
    + _NEWLINE
    + rb")*(?:"
    + _NEWLINE
    + rb")?[A-Za-z0-9+/]{40,}"
)
_AWS_KEY_ID = re.compile(rb"(?<![A-Z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Z0-9])")
_AWS_SECRET = re.compile(rb"(?im)^\s*aws_secret_access_key\s*[=:]\s*[A-Za-z0-9/+]{40}\s*$")
_NPM_TOKEN = re.compile(rb"(?m)^\s*(?:\S*:)?_(?:authToken|auth|password)\s*=\s*\S+")
_GITHUB_TOKEN = re.compile(rb"(?<![A-Za-z0-9_])gh[pousr]_[A-Za-z0-9]{36}(?![A-Za-z0-9])")
_PYPI_TOKEN = re.compile(rb"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}")


class Finding(TypedDict):
    """One thing that must not ship: where, which rule, and why in a few words."""

    path: str
    rule: str
    detail: str


def scan_artifact(path: Path) -> list[Finding]:
    """Every finding in an artifact (folder, zip, tar, onefile), by path and by content."""
    names: list[str] = []
    findings: list[Finding] = []
    for name, read in members(path):
        names.append(name)
        if not name.endswith("/") and not is_test_path(name):
            data = read()
            if data is not None:
                findings += scan_contents(name, data)
    return sorted(_unique([*scan_names(names), *findings]), key=lambda f: (f["path"], f["rule"]))


def scan_names(names: Iterable[str]) -> list[Finding]:
    """Findings from paths alone; a VCS folder is reported once, not once per file in it."""
    findings: list[Finding] = []
    for name in names:
        finding = check_name(name)
        if finding:
            findings.append(finding)
    return _unique(findings)


def check_name(name: str) -> Finding | None:
    """The path rule ``name`` breaks, if any (the first one, in a fixed order)."""
    parts = _parts(name)
    if not parts or is_test_path(name):
        return None
    for index, part in enumerate(parts):
        if part in VCS_FOLDERS and (index < len(parts) - 1 or name.endswith("/")):
            folder = "/".join(parts[: index + 1]) + "/"
            return Finding(path=folder, rule="vcs-folder", detail=f"a {part} folder (history)")
    base = parts[-1]
    lower = base.lower()
    path = "/".join(parts)
    if name.endswith("/"):
        return None
    rules: list[tuple[bool, str, str]] = [
        (_is_dotenv(lower), "dotenv", "an environment file, usually holding secrets"),
        (base in SSH_KEYS, "ssh-private-key", "an SSH private key by its usual name"),
        (lower.endswith(".key"), "key-file", "a .key file, usually a private key"),
        (lower.endswith((".p12", ".pfx", ".jks", ".keystore")), "keystore", "a key store"),
        (lower in (".netrc", "_netrc"), "netrc", "login passwords for hosts"),
        (lower == ".pypirc", "pypirc", "package index credentials"),
        (parts[-2:] == [".aws", "credentials"], "aws-credentials", "an AWS credentials file"),
        (lower == ".htpasswd", "htpasswd", "password hashes"),
        (lower.endswith(".kdbx"), "password-store", "a KeePass database"),
        (lower in HISTORY_FILES, "shell-history", "a shell history (commands, passwords)"),
        (lower.endswith((".sqlite", ".sqlite3", ".db")), "database", "a database: user data?"),
        (base == ".DS_Store", "junk", "macOS Finder metadata"),
    ]
    return next((Finding(path=path, rule=r, detail=d) for hit, r, d in rules if hit), None)


def scan_contents(name: str, data: bytes) -> list[Finding]:
    """Findings from a member's bytes: private keys with a body, AWS keys, tokens."""
    if is_test_path(name):
        return []
    path = "/".join(_parts(name))
    findings: list[Finding] = []
    key = _PRIVATE_KEY.search(data)
    if key:
        kind = key.group("kind").decode("ascii", "replace").strip() or "PKCS#8"
        findings.append(Finding(path=path, rule="private-key", detail=f"a {kind} private key"))
    for match in _AWS_KEY_ID.finditer(data):
        if b"EXAMPLE" not in match.group():
            detail = f"an AWS access key id {match.group()[:8].decode()}…"
            findings.append(Finding(path=path, rule="aws-access-key", detail=detail))
            break
    if _AWS_SECRET.search(data):
        findings.append(
            Finding(path=path, rule="aws-secret-key", detail="an aws_secret_access_key setting")
        )
    if _parts(name)[-1:] == [".npmrc"] and _NPM_TOKEN.search(data):
        findings.append(Finding(path=path, rule="npm-token", detail="an npm registry token"))
    if _GITHUB_TOKEN.search(data):
        findings.append(Finding(path=path, rule="github-token", detail="a GitHub token"))
    if _PYPI_TOKEN.search(data):
        findings.append(Finding(path=path, rule="pypi-token", detail="a PyPI API token"))
    return findings


def is_test_path(name: str) -> bool:
    """True inside a test or example folder: dependencies ship dummy keys there."""
    return any(part.lower() in IGNORED_FOLDERS for part in _parts(name)[:-1])


def _is_dotenv(lower: str) -> bool:
    if lower == ".env":
        return True
    if not lower.startswith(".env."):
        return False
    return lower.removeprefix(".env.") not in DOTENV_TEMPLATES


def _parts(name: str) -> list[str]:
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return [part for part in parts if part not in ("/", ".")]


def _unique(findings: Iterable[Finding]) -> list[Finding]:
    seen: set[tuple[str, str]] = set()
    kept: list[Finding] = []
    for finding in findings:
        key = (finding["path"], finding["rule"])
        if key not in seen:
            seen.add(key)
            kept.append(finding)
    return kept


# Members of an artifact ---------------------------------------------------------------------
#
# Each lister is a generator that keeps its archive open while it runs: call a reader before
# the iteration ends (``list(members(p))`` leaves readers of a closed archive).


def members(path: Path) -> Iterator[tuple[str, Reader]]:
    """(name, reader) for every file of an artifact, whatever its format."""
    if path.is_dir():
        return folder_members(path)
    with path.open("rb") as stream:
        head = stream.read(4)
    if head[:2] == b"\x1f\x8b":
        return tar_members(path)
    if zipfile.is_zipfile(path):
        return zip_members(path)
    listed = onefile_members(path)
    if listed is not None:
        return listed
    if tarfile.is_tarfile(path):
        return tar_members(path)
    return iter([(path.name, path.read_bytes)])


def folder_members(root: Path) -> Iterator[tuple[str, Reader]]:
    """Files and symlinks of a folder, by relative POSIX path, sorted; folders end with '/'."""
    for current, dirs, files in os.walk(root):
        dirs.sort()
        here = Path(current)
        for name in dirs:
            yield (here / name).relative_to(root).as_posix() + "/", bytes
        for name in sorted(files):
            file = here / name
            rel = file.relative_to(root).as_posix()
            yield rel, (bytes if file.is_symlink() else _file_reader(file))


def _file_reader(file: Path) -> Reader:
    return lambda: None if file.stat().st_size > MAX_SCAN_BYTES else file.read_bytes()


def zip_members(path: Path) -> Iterator[tuple[str, Reader]]:
    """Members of a zip: a wheel, or a pex (the shebang line before the zip is skipped)."""
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            yield info.filename, _zip_reader(archive, info)


def _zip_reader(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> Reader:
    return lambda: None if info.file_size > MAX_SCAN_BYTES else archive.read(info)


def tar_members(path: Path) -> Iterator[tuple[str, Reader]]:
    """Members of a tar or tar.gz (an sdist); folders end with '/', links read as empty."""
    with tarfile.open(path, mode="r:*") as archive:
        for member in archive:
            name = member.name + ("/" if member.isdir() else "")
            yield name, _tar_reader(archive, member)


def _tar_reader(archive: tarfile.TarFile, member: tarfile.TarInfo) -> Reader:
    def read() -> bytes | None:
        if member.isfile() and member.size > MAX_SCAN_BYTES:
            return None
        stream = archive.extractfile(member) if member.isfile() else None
        return stream.read() if stream else b""

    return read


def onefile_members(path: Path) -> Iterator[tuple[str, Reader]] | None:
    """Entries of a PyInstaller onefile's CArchive TOC, or None when it has none."""
    try:
        from PyInstaller.archive.readers import CArchiveReader

        reader = CArchiveReader(str(path))
    except Exception:  # not installed, or not a onefile: the reader raises several kinds
        return None
    names: list[str] = list(reader.toc)

    def entry(name: str) -> Reader:
        too_big = reader.toc[name][2] > MAX_SCAN_BYTES  # the uncompressed length
        return lambda: None if too_big else bytes(reader.extract(name))

    return iter([(name, entry(name)) for name in names])
