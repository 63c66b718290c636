"""The wheels a locked version publishes, as the package index lists them, kept on disk.

The index is pip's (``PIP_INDEX_URL``, else pip's configured ``index-url``, else PyPI), read
through its simple API: JSON (PEP 691) where it answers JSON, its HTML page (PEP 503) otherwise.
What it lists for a released ``name==version`` rarely changes, so each list is kept in the
cache and read from there on later runs, offline.
"""

from __future__ import annotations

import html
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Final

from packaging.utils import (
    InvalidWheelFilename,
    canonicalize_name,
    canonicalize_version,
    parse_wheel_filename,
)

from packmatrix.errors import StepFailed
from packmatrix.reading.wheeltags import Published

PYPI: Final = "https://pypi.org/simple/"
TIMEOUT: Final = 30.0
JSON_TYPE: Final = "application/vnd.pypi.simple.v1+json"
_ANCHOR: Final = re.compile(r"<a\s[^>]*>([^<]+)</a>", re.I)
_REQUIRES: Final = re.compile(r'data-requires-python="([^"]*)"', re.I)


def index_url() -> str:
    """The index pip downloads from here."""
    found = os.environ.get("PIP_INDEX_URL")
    if not found:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "config", "list"],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        for line in done.stdout.splitlines():
            key, _, value = line.partition("=")
            if key in ("global.index-url", "download.index-url", "install.index-url"):
                found = value.strip().strip("'\"")
    return (found or PYPI).rstrip("/") + "/"


def kept_list(name: str, version: str, cache: Path) -> list[Published] | None:
    """The wheels ``name==version`` publishes as ``cache`` kept them, or None: never listed."""
    try:
        text = _kept(name, version, cache).read_text(encoding="utf-8")
        return [Published(**item) for item in json.loads(text)]
    except (OSError, ValueError, TypeError):
        return None


def _kept(name: str, version: str, cache: Path) -> Path:
    return cache / f"{canonicalize_name(name)}-{canonicalize_version(version)}.json"


def published(name: str, version: str, *, cache: Path, index: str) -> list[Published]:
    """The wheels ``name==version`` publishes: from ``cache`` when listed before, else from
    ``index`` (then kept in ``cache``)."""
    if (found := kept_list(name, version, cache)) is not None:
        return found
    kept = _kept(name, version, cache)
    files = wheels_of(name, version, listing(name, index))
    cache.mkdir(parents=True, exist_ok=True)
    text = json.dumps([item.__dict__ for item in files], indent=1)
    scratch = kept.with_suffix(f".{os.getpid()}.tmp")
    scratch.write_text(text, encoding="utf-8")
    os.replace(scratch, kept)
    return files


def listing(name: str, index: str) -> list[Published]:
    """Every file the index lists for project ``name``."""
    url = f"{index}{canonicalize_name(name)}/"
    request = urllib.request.Request(url, headers={"Accept": f"{JSON_TYPE}, text/html;q=0.1"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as answer:
            kind = answer.headers.get("Content-Type", "")
            body = answer.read().decode("utf-8", errors="replace")
    except (urllib.error.URLError, OSError) as exc:
        why = getattr(exc, "reason", None) or exc
        raise StepFailed(f"listing the files of {name} on {index} failed: {why}") from None
    if JSON_TYPE in kind or body.lstrip().startswith("{"):
        return from_json(json.loads(body))
    return from_html(body)


def from_json(data: dict[str, Any]) -> list[Published]:
    """The files of a PEP 691 project page (yanked ones too: pip takes a yanked file for an
    exact pin, as a lock's are)."""
    return [
        Published(str(item["filename"]), item.get("requires-python") or None)
        for item in data.get("files", [])
    ]


def from_html(page: str) -> list[Published]:
    """The files of a PEP 503 project page."""
    files = []
    for anchor in re.finditer(r"<a\s[^>]*>[^<]+</a>", page, re.I):
        text = anchor.group(0)
        filename = html.unescape(_ANCHOR.match(text).group(1).strip())  # type: ignore[union-attr]
        requires = _REQUIRES.search(text)
        files.append(Published(filename, html.unescape(requires.group(1)) if requires else None))
    return files


def wheels_of(name: str, version: str, files: list[Published]) -> list[Published]:
    """The wheels among ``files`` of exactly ``name==version``."""
    wanted = (canonicalize_name(name), canonicalize_version(version))
    found = []
    for item in files:
        try:
            dist, found_version, _, _ = parse_wheel_filename(item.filename)
        except InvalidWheelFilename:
            continue
        if (dist, canonicalize_version(found_version)) == wanted:
            found.append(item)
    return found
