"""The artifact cache: a build is reused when nothing it was made from has changed.

An entry lives in ``$XDG_CACHE_HOME/packmatrix/artifacts/<key>/`` (default ``~/.cache``): the
artifact's files under ``files/`` and ``entry.json``, the ``Built`` record (files relative to the
entry, commands, the original build time, figures, the run that built it). The key is a sha256
of everything the build depends on (``cachekey``). An entry is written into a temporary folder
and renamed into place, so an interrupted run never leaves half of one.

Facts read from an artifact's bytes alone (portability, secrets found inside) are cached by the
artifacts' sha256 under ``facts/``. An image is kept in the container engine, tagged by its key
(``engine.KEPT_REPOSITORY``), and its entry holds the saved tar and the image's id: a hit whose
image is gone from the engine is a miss, and an entry evicted or cleared takes its image along.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import docker

from packmatrix.container.engine import PING_TIMEOUT, connect
from packmatrix.errors import StepFailed, UsageError
from packmatrix.formats.base import Built
from packmatrix.model.facts import ImageFacts, Stripping
from packmatrix.model.records import Figures
from packmatrix.model.units import human_bytes
from packmatrix.reading.reproducible import file_sha256
from packmatrix.steps.cachekey import LAYOUT

log = logging.getLogger(__name__)

ENTRY_FILE: Final = "entry.json"
DEFAULT_MAX_BYTES: Final = 2_000_000_000
MAX_ENV: Final = "PACKMATRIX_CACHE_MAX"
STALE_TEMP_SECONDS: Final = 3600.0
"""A temporary entry older than this was left by an interrupted run."""


def root() -> Path:
    """packmatrix's own cache folder: ``$XDG_CACHE_HOME/packmatrix`` (default ``~/.cache``)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "packmatrix"


def artifacts_dir() -> Path:
    return root() / "artifacts"


def facts_dir() -> Path:
    return root() / "facts"


def templates_dir() -> Path:
    """The report templates, compiled (``report.render``)."""
    return root() / "templates"


def image_label(key: str) -> str:
    """The tag an image kept for ``key`` gets: the key, and which cache folder keeps it. Two
    caches on one engine (a user's, a benchmark's, the test session's) build the same key
    for the same app; each keeps its own image, so clearing one never takes the other's."""
    return f"{key[:20]}-{_owner()}"


def _owner() -> str:
    """This cache folder, in eight hex digits: the end of every tag it gives a kept image."""
    return hashlib.sha256(str(artifacts_dir().resolve()).encode()).hexdigest()[:8]


def max_bytes() -> int:
    """The cache's size cap in bytes: ``$PACKMATRIX_CACHE_MAX``, else 2 GB."""
    text = os.environ.get(MAX_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_BYTES
    if not text.isdigit():
        raise UsageError(f"{MAX_ENV}={text!r} is not a size in bytes (e.g. 2000000000)")
    return int(text)


# -- entries --------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Hit:
    """A build found in the cache, ready to deploy."""

    built: Built
    run_id: str
    built_at: str
    """When the original build ran (ISO 8601, UTC)."""


def lookup(key: str) -> Hit | None:
    """The cached build for ``key``, or None; a hit counts as a use (for the LRU eviction)."""
    entry = artifacts_dir() / key
    meta = entry / ENTRY_FILE
    try:
        data = json.loads(meta.read_text(encoding="utf-8"))
        files = [entry / "files" / name for name in data["files"]]
        folder = data.get("folder")
        built = Built(
            files=files,
            commands=[list(map(str, argv)) for argv in data["commands"]],
            seconds=float(data["seconds"]),
            folder=entry / "files" / folder if folder else None,
            figures=Figures.from_json(data["figures"]) if data.get("figures") else None,
            image=ImageFacts.from_json(data["image"]) if data.get("image") else None,
            dockerfile=data.get("dockerfile"),
            artifact_note=data.get("artifact_note"),
            generated_files=data.get("generated_files"),
            stripping=Stripping.from_json(data["stripping"]) if data.get("stripping") else None,
        )
        if not all(path.is_file() or path.is_symlink() for path in files):
            return None
        os.utime(meta)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return Hit(built=built, run_id=str(data["run_id"]), built_at=str(data["built_at"]))


def find_artifact(shas: Sequence[str]) -> Built | None:
    """The kept build whose files have exactly these sha256s (a baseline's artifact, named by
    its report), or None: what lets a baseline be started again without rebuilding it."""
    wanted = sorted(shas)
    base = artifacts_dir()
    if not wanted or not base.is_dir():
        return None
    for meta in base.glob(f"*/{ENTRY_FILE}"):
        try:
            data = json.loads(meta.read_text(encoding="utf-8"))
            kept = data.get("sha256")
            if kept is None:  # an entry kept before entries named their bytes: read them once
                kept = sorted(file_sha256(meta.parent / "files" / n) for n in data["files"])
                data["sha256"] = kept
                meta.write_text(json.dumps(data, indent=1), encoding="utf-8")
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if kept == wanted and (hit := lookup(meta.parent.name)) is not None:
            return hit.built
    return None


def store(key: str, built: Built, *, run_id: str, commands: list[list[str]]) -> bool:
    """Keep a fresh build under ``key``; False when it can't be (a full disk). Never fails the
    run: the cache is an optimisation. A fresh build replaces an entry of the same key (after
    ``--rebuild``, or when the entry's image had left the engine): the entry names what later
    runs reuse, and a kept image's tag has already moved to the fresh one."""
    base = artifacts_dir()
    tmp: Path | None = None
    try:
        base.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=base, prefix=f".{key}.", suffix=".tmp"))
        files = tmp / "files"
        files.mkdir()
        if built.folder is not None:
            shutil.copytree(built.folder, files / built.folder.name, symlinks=True)
            names = [path.relative_to(built.folder.parent).as_posix() for path in built.files]
        else:
            names = []
            for path in built.files:
                shutil.copy2(path, files / path.name)
                names.append(path.name)
        data = {
            "layout": LAYOUT,
            "files": names,
            "sha256": sorted(file_sha256(path) for path in built.files),
            "folder": built.folder.name if built.folder is not None else None,
            "commands": commands,
            "seconds": built.seconds,
            "figures": built.figures.to_json() if built.figures else None,
            "image": built.image.to_json() if built.image else None,
            "dockerfile": built.dockerfile,
            "artifact_note": built.artifact_note,
            "generated_files": built.generated_files,
            "stripping": built.stripping.to_json() if built.stripping else None,
            "run_id": run_id,
            "built_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        }
        (tmp / ENTRY_FILE).write_text(json.dumps(data, indent=1), encoding="utf-8")
        _swap_in(tmp, base / key)
        return True
    except OSError as exc:
        log.warning("the artifact cache could not keep a build: %s", exc)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        return False


def _swap_in(tmp: Path, entry: Path) -> None:
    """Rename ``tmp`` into place as ``entry``. An entry already there goes (renamed aside
    first, so a reader never sees half of one), and the image it kept leaves the engine unless
    the new entry keeps the same one."""
    if not entry.exists():
        os.rename(tmp, entry)
        return
    old_images = set(kept_images([entry])) - set(kept_images([tmp]))
    aside = entry.with_name(f".{entry.name}.replaced-{os.getpid()}.tmp")
    os.rename(entry, aside)
    os.rename(tmp, entry)
    shutil.rmtree(aside, ignore_errors=True)
    remove_kept(sorted(old_images))


# -- size, eviction, info -------------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    path: Path
    bytes: int
    used: float
    """When it was last stored or reused (the mtime of its entry.json)."""


def tree_bytes(path: Path) -> int:
    total = 0
    for current, _, names in os.walk(path):
        for name in names:
            with contextlib.suppress(OSError):
                total += (Path(current) / name).lstat().st_size
    return total


def entries() -> list[Entry]:
    """The complete entries, least recently used first."""
    base = artifacts_dir()
    if not base.is_dir():
        return []
    found = []
    for child in base.iterdir():
        meta = child / ENTRY_FILE
        if child.name.startswith(".") or not meta.is_file():
            continue
        with contextlib.suppress(OSError):
            found.append(Entry(child, tree_bytes(child), meta.stat().st_mtime))
    return sorted(found, key=lambda entry: entry.used)


def evict(limit: int) -> list[Path]:
    """Remove least recently used entries until the cache holds at most ``limit`` bytes, and
    temporary entries an interrupted run left behind; returns what was removed."""
    removed = []
    base = artifacts_dir()
    if base.is_dir():
        for child in base.glob(".*.tmp"):
            with contextlib.suppress(OSError):
                if time.time() - child.stat().st_mtime > STALE_TEMP_SECONDS:
                    shutil.rmtree(child, ignore_errors=True)
    found = entries()
    total = sum(entry.bytes for entry in found)
    for entry in found:
        if total <= limit:
            break
        images = kept_images([entry.path])
        shutil.rmtree(entry.path, ignore_errors=True)
        remove_kept(images)
        total -= entry.bytes
        removed.append(entry.path)
    return removed


def kept_images(folders: Sequence[Path]) -> list[str]:
    """The ids of the images these entries keep in the container engine."""
    found = []
    for folder in folders:
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            image = json.loads((folder / ENTRY_FILE).read_text(encoding="utf-8")).get("image")
            if image:
                found.append(str(image["id"]))
    return found


def remove_kept(image_ids: Sequence[str]) -> None:
    """Take the images this artifact cache kept and no longer holds out of the engine; best
    effort (no engine, an image already gone or in use: left as it is). An image that also
    carries another tag (another cache's or run's: a reproducible build gives the same id)
    only loses this cache's tags; any other is removed by id."""
    if not image_ids:
        return
    try:
        client = connect(PING_TIMEOUT)
    except StepFailed:
        return
    mine = f"-{_owner()}"
    try:
        for image_id in image_ids:
            with contextlib.suppress(docker.errors.DockerException):
                tags = list(client.images.get(image_id).tags)
                own = [tag for tag in tags if tag.endswith(mine)]
                if len(own) < len(tags):
                    for tag in own:
                        client.api.remove_image(tag, noprune=True)
                else:
                    client.images.remove(image_id, force=True)
    finally:
        client.close()


def info_line() -> str:
    found = entries()
    total = sum(entry.bytes for entry in found)
    images = kept_images([entry.path for entry in found])
    kept = f", {len(images)} image(s) kept in the container engine" if images else ""
    return (
        f"artifact cache: {len(found)} build(s), {human_bytes(total)} in {artifacts_dir()} "
        f"(cap {human_bytes(max_bytes())}, ${MAX_ENV}){kept}"
    )


def clear() -> str:
    """Empty the artifact and facts caches (the downloaded wheels stay); one line saying so."""
    found = entries()
    total = sum(entry.bytes for entry in found)
    images = kept_images([entry.path for entry in found])
    for folder in (artifacts_dir(), facts_dir(), templates_dir()):
        shutil.rmtree(folder, ignore_errors=True)
    remove_kept(images)
    gone = f" and {len(images)} kept image(s) from the container engine" if images else ""
    return f"removed {len(found)} cached build(s), {human_bytes(total)}, from {root()}{gone}"


# -- facts read from an artifact's bytes ----------------------------------------------------
def facts_key(kind: str, parts: Sequence[str]) -> str:
    text = json.dumps([LAYOUT, kind, *parts])
    return hashlib.sha256(text.encode()).hexdigest()[:40]


def read_facts(key: str) -> Any:
    """The facts stored under ``key``, or None."""
    try:
        return json.loads((facts_dir() / f"{key}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def write_facts(key: str, data: Any) -> None:
    folder = facts_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out)
        os.replace(tmp, folder / f"{key}.json")
    except OSError as exc:
        log.warning("the facts cache could not keep %s: %s", key, exc)
