"""Things that must never ship inside an artifact: secrets, keys, VCS folders, local junk.

Two kinds of rule: by path (``scan_names``: ``.env``, ``.git/``, ``id_rsa``, ``.netrc``, …) and by
content (``scan_contents``: a PEM private key with its body, an AWS access key id, a token in an
``.npmrc``). ``scan_artifact`` runs both over every member ``artifacts.members`` lists, whatever
the artifact: a folder, a wheel or pex, an sdist, a PyInstaller onefile (its TOC entries and the
modules inside its PYZ), or a ``docker save`` image (every layer's files, so a secret deleted by a
later layer is still found, with the layer that ships it). A member over ``MAX_SCAN_BYTES`` is
checked by name only and never read.

False positives are kept low on purpose: anything under a ``tests/`` (or ``test/``,
``testing/``, ``testdata/``, ``examples/``) folder is ignored, since dependencies ship dummy keys
there; a ``.pem`` is only a finding when it holds a private key (``certifi/cacert.pem`` holds
certificates); a PEM header alone, as in a parser's source code, is not a key; AWS's documented
example key ids (``AKIAIOSFODNN7EXAMPLE``, ``AKIAEXAMPLE…``) are not keys.
"""

from __future__ import annotations

import dataclasses
import marshal
import re
import types
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path, PurePosixPath

from packmatrix.model.facts import Finding
from packmatrix.reading import artifacts, ospackages

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


def scan_artifact(path: Path, base_layers: Collection[str] = ()) -> list[Finding]:
    """Every finding in an artifact of any kind, by path and by content, sorted by path.

    In an image, each finding names the build step that made its layer and the OS package that
    owns its file (dpkg's lists); a finding in a layer whose diff id is in ``base_layers``, or
    key material compiled into an OS package's shared library, is ``inherited``: not the app's.
    """
    with artifacts.open_artifact(path) as artifact:
        where = _ImageView.of(artifact.members, base_layers)
        findings = [
            where.attribute(member, finding)
            for member in artifact.members
            for finding in scan_member(member)
        ]
    return sorted(_unique(findings), key=lambda f: (f.path, f.rule))


class _ImageView:
    """Who made each layer of an image and who owns each file in it; nothing for other kinds."""

    def __init__(self, steps: dict[str, artifacts.LayerStep], owned: dict[str, str]) -> None:
        self.steps = steps
        """layer → (the step that made it, whether it is the base image's)"""
        self.owned = owned

    @classmethod
    def of(cls, found: list[artifacts.Member], base_layers: Collection[str]) -> _ImageView:
        steps = artifacts.image_steps(found, base_layers)
        lists = [
            (m.path, m.read())
            for m in found
            if steps and m.parent is not None and not m.hidden_by and ospackages.is_list(m.path)
        ]
        return cls(steps, ospackages.owners(lists))

    def attribute(self, member: artifacts.Member, finding: Finding) -> Finding:
        if member.parent not in self.steps:
            return finding
        step, base, _ = self.steps[member.parent]
        package = ospackages.owner(self.owned, member.path)
        in_library = finding.rule == "private-key" and package and _is_shared_library(member)
        if in_library:
            finding = dataclasses.replace(
                finding,
                rule="library-key-material",
                detail=f"PEM key material compiled into a shared library of the Debian package "
                f"{package} (test vectors, as GnuTLS's FIPS self-tests): not a key file",
            )
        return dataclasses.replace(
            finding, layer=step, package=package, inherited=base or bool(in_library)
        )


def _is_shared_library(member: artifacts.Member) -> bool:
    return ".so" in PurePosixPath(member.path).name and member.read()[:4] == b"\x7fELF"


def scan_member(member: artifacts.Member) -> list[Finding]:
    """Findings for one member: by its name, then by its bytes unless it is too big to read."""
    name = member.name
    by_name = check_name(name)
    findings = [by_name] if by_name else []
    if member.kind == "file" and member.size <= MAX_SCAN_BYTES and not is_test_path(name):
        findings += scan_contents(name, contents(member))
    if member.hidden_by:
        note = f"; deleted by layer {member.hidden_by}, yet still shipped in this one"
        findings = [dataclasses.replace(f, detail=f.detail + note) for f in findings]
    return findings


def contents(member: artifacts.Member) -> bytes:
    """What the content rules read: the bytes, or for a frozen module its string constants, one
    a line (marshal puts type bytes right after a string, which would hide a key's end)."""
    data = member.read()
    if not isinstance(member.info, artifacts.PyzEntry):
        return data
    try:
        code = marshal.loads(data)
    except (ValueError, EOFError, TypeError):  # byte code of another Python: scan it raw
        return data
    return b"\n".join(_constants(code)) if isinstance(code, types.CodeType) else data


def _constants(value: object) -> Iterator[bytes]:
    if isinstance(value, str):
        yield value.encode("utf-8", "surrogateescape")
    elif isinstance(value, bytes):
        yield value
    elif isinstance(value, types.CodeType):
        for const in value.co_consts:
            yield from _constants(const)
    elif isinstance(value, tuple | frozenset):
        for item in value:
            yield from _constants(item)


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
        key = (finding.path, finding.rule)
        if key not in seen:
            seen.add(key)
            kept.append(finding)
    return kept
