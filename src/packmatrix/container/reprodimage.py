"""A built image made reproducible: the saved image rewritten, then loaded back through the SDK.

The classic builder stamps every layer with the time of the build: file mtimes, the image's
``created`` and each history entry's, and the build container's id in the config. So the image
``docker save`` writes is rewritten (we chose this over writing the app layers ourselves: the
Dockerfile stays the one description of the image, and a user can read and rebuild it):

- the base image's layers are kept byte for byte (their diff ids name the base);
- each of the app's layers is written again: members sorted by name (a hard link after what it
  links to), mtimes clamped to SOURCE_DATE_EPOCH, PAX ``atime``/``ctime``/``mtime`` dropped,
  owners, modes, link targets and extended attributes kept;
- the config gets the new diff ids, ``created`` and the app's history times from
  SOURCE_DATE_EPOCH, and loses what names the build itself (the build container, its host
  name, the parent image, the run's label and the history entry that set it);
- the tar is written in a fixed order with fixed headers, without a tag (``RepoTags`` null:
  a tag would put the run's name in its bytes; ``docker load`` prints the image id).

The image id is the sha256 of its config, so two builds of the same tree give the same id.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import io
import json
import shutil
import tarfile
from collections.abc import Collection
from pathlib import Path
from typing import IO, Any, Final

from packmatrix.container.engine import BUILT_BY_LABEL
from packmatrix.reading import layers

DROPPED_PAX: Final = frozenset({"atime", "ctime", "mtime"})
_CHUNK: Final = 1 << 20


def normalise_layer(source: IO[bytes], target: IO[bytes], epoch: int) -> None:
    """Write the layer tar ``source`` normalised into the file ``target``."""
    with tarfile.open(fileobj=source, mode="r:*") as layer:
        infos = layer.getmembers()
        order = sorted(infos, key=lambda info: (info.islnk(), info.name))
        with tarfile.open(fileobj=target, mode="w", format=tarfile.PAX_FORMAT) as written:
            for info in order:
                clean = copy.copy(info)
                clean.mtime = min(int(info.mtime), epoch)
                clean.pax_headers = {
                    key: value for key, value in info.pax_headers.items() if key not in DROPPED_PAX
                }
                stream = layer.extractfile(info) if info.isfile() else None
                written.addfile(clean, stream)


def normalise_config(
    config: dict[str, Any], diff_ids: list[str], base_count: int, epoch: int
) -> dict[str, Any]:
    """The image config with the new diff ids and every time of the app's build fixed."""
    stamp = datetime.datetime.fromtimestamp(epoch, tz=datetime.timezone.utc)
    when = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
    fixed = copy.deepcopy(config)
    for key in ("container", "container_config"):
        fixed.pop(key, None)
    inner = fixed.get("config") or {}
    inner["Hostname"] = ""
    inner["Image"] = ""
    labels = inner.get("Labels") or {}
    labels.pop(BUILT_BY_LABEL, None)
    inner["Labels"] = labels or None
    fixed["config"] = inner
    fixed["created"] = when
    fixed["rootfs"] = {"type": "layers", "diff_ids": diff_ids}
    history = [
        entry
        for entry in fixed.get("history") or []
        if not (entry.get("empty_layer") and BUILT_BY_LABEL in str(entry.get("created_by")))
    ]
    fixed["history"] = history
    layer_index = 0
    for entry in history:
        if layer_index >= base_count:
            entry["created"] = when
        if not entry.get("empty_layer"):
            layer_index += 1
    return fixed


def rewrite(saved: Path, target: Path, base_layers: Collection[str], epoch: int) -> str:
    """Rewrite the ``docker save`` tar ``saved`` into ``target``, reproducibly; its image id."""
    with tarfile.open(saved) as image:
        manifest = _read(image, "manifest.json")
        config_name = layers.config_name(manifest) or ""
        config = json.loads(_read(image, config_name))
        described = layers.describe(manifest, json.dumps(config).encode())
        base_count = 0
        for layer in described:
            if layer.diff_id not in base_layers:
                break
            base_count += 1
        blobs: dict[str, Path] = {}
        diff_ids = []
        for index, layer in enumerate(described):
            part = target.with_name(f"{target.name}.layer{index}")
            stream = image.extractfile(layer.name)
            if stream is None:
                raise tarfile.ReadError(f"layer {layer.name} is not a file")
            with part.open("wb") as out:
                if index < base_count:
                    shutil.copyfileobj(stream, out, _CHUNK)
                else:
                    normalise_layer(stream, out, epoch)
            diff_id = _sha256(part)
            diff_ids.append(diff_id)
            blobs[diff_id] = part
    fixed = normalise_config(config, diff_ids, base_count, epoch)
    config_bytes = json.dumps(fixed, sort_keys=True, separators=(",", ":")).encode()
    image_id = hashlib.sha256(config_bytes).hexdigest()
    names = [f"{diff_id.removeprefix('sha256:')}/layer.tar" for diff_id in diff_ids]
    new_manifest = [{"Config": f"{image_id}.json", "RepoTags": None, "Layers": names}]
    try:
        with tarfile.open(target, "w", format=tarfile.USTAR_FORMAT) as out:
            _add(out, f"{image_id}.json", config_bytes, epoch)
            for name, diff_id in sorted(zip(names, diff_ids, strict=True)):
                folder = _header(name.split("/")[0], 0, epoch)
                folder.type, folder.mode = tarfile.DIRTYPE, 0o755
                out.addfile(folder)
                _add_file(out, name, blobs[diff_id], epoch)
            _add(out, "manifest.json", json.dumps(new_manifest).encode(), epoch)
    finally:
        for part in blobs.values():
            part.unlink(missing_ok=True)
    return f"sha256:{image_id}"


def _read(image: tarfile.TarFile, name: str) -> bytes:
    stream = image.extractfile(name)
    if stream is None:
        raise tarfile.ReadError(f"the saved image has no file {name}")
    return stream.read()


def _sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(_CHUNK), b""):
            sha.update(block)
    return f"sha256:{sha.hexdigest()}"


def _header(name: str, size: int, epoch: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, epoch, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _add(out: tarfile.TarFile, name: str, data: bytes, epoch: int) -> None:
    out.addfile(_header(name, len(data), epoch), io.BytesIO(data))


def _add_file(out: tarfile.TarFile, name: str, path: Path, epoch: int) -> None:
    with path.open("rb") as stream:
        out.addfile(_header(name, path.stat().st_size, epoch), stream)
