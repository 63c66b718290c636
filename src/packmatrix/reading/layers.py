"""Docker image layers in a ``docker save`` tar: which they are, and what each later one deletes.

A layer deletes a file of an earlier one with a whiteout: an empty ``.wh.<name>`` next to it, or
``.wh..wh..opq`` in a folder to empty it of everything earlier layers put there. Writing a file
again replaces it the same way. The earlier copy is not in the container, but it is still
shipped, in the earlier layer: that is what ``hidden_by`` tells.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import PurePosixPath
from typing import Any, Final, NamedTuple

WHITEOUT: Final = ".wh."
OPAQUE_WHITEOUT: Final = ".wh..wh..opq"


def image_layers(archive: tarfile.TarFile, infos: list[tarfile.TarInfo]) -> list[str]:
    """The layers of a ``docker save`` tar, bottom first, from its manifest.json; [] if none."""
    manifest = next((info for info in infos if info.name == "manifest.json"), None)
    stream = archive.extractfile(manifest) if manifest is not None else None
    if stream is None:
        return []
    try:
        images: Any = json.loads(stream.read())
    except ValueError:
        return []
    names = {info.name for info in infos if info.isfile()}
    found: list[str] = []
    for image in images if isinstance(images, list) else []:
        layers = image.get("Layers") if isinstance(image, dict) else None
        for layer in layers if isinstance(layers, list) else []:
            if isinstance(layer, str) and layer in names and layer not in found:
                found.append(layer)
    return found


def open_layer(archive: tarfile.TarFile, name: str) -> tarfile.TarFile:
    """A layer of an open image tar, as a tar of its own (plain or compressed)."""
    stream = archive.extractfile(name)
    if stream is None:
        raise tarfile.ReadError(f"image layer {name} is not a file")
    return tarfile.open(fileobj=stream, mode="r:*")


def clean(name: str) -> str:
    """A layer member's path without './', a leading '/' or a trailing '/'."""
    parts = [part for part in PurePosixPath(name).parts if part not in ("/", ".")]
    return "/".join(parts)


def is_whiteout(name: str) -> bool:
    """True for a whiteout file: it marks a deletion, it is not a file of the image."""
    return PurePosixPath(name).name.startswith(WHITEOUT)


def hidden_by(
    layers: list[str], listing: dict[str, list[tarfile.TarInfo]]
) -> dict[tuple[str, str], str]:
    """(layer, path) → the nearest later layer that deletes (a whiteout) or replaces the file."""
    deleted: dict[str, str] = {}  # a path deleted with all below it → by which layer
    opaque: dict[str, str] = {}  # a folder emptied of what lower layers put in it → by which
    replaced: dict[str, str] = {}  # a file written again → by which layer
    hidden: dict[tuple[str, str], str] = {}
    order = {layer: index for index, layer in enumerate(layers)}
    for layer in reversed(layers):
        infos = listing[layer]
        for info in infos:
            path = clean(info.name)
            if is_whiteout(path) or not path:
                continue
            ancestors = ["/".join(path.split("/")[:i]) for i in range(1, path.count("/") + 1)]
            by = (
                replaced.get(path) if not info.isdir() else None,
                deleted.get(path),
                *(deleted.get(folder) for folder in ancestors),
                *(opaque.get(folder) for folder in ancestors),
            )
            later = [found for found in by if found]
            if later:
                hidden[(layer, path)] = min(later, key=order.__getitem__)
        for info in infos:
            path = clean(info.name)
            folder, _, base = path.rpartition("/")
            if base == OPAQUE_WHITEOUT:
                opaque[folder] = layer
            elif base.startswith(WHITEOUT):
                deleted["/".join(filter(None, (folder, base.removeprefix(WHITEOUT))))] = layer
            elif path and not info.isdir():
                replaced[path] = layer
    return hidden


class LayerInfo(NamedTuple):
    """One layer of a saved image: its file in the tar, its diff id, the step that made it."""

    name: str
    diff_id: str
    created_by: str


def describe(manifest: bytes, config: bytes | None) -> list[LayerInfo]:
    """The layers a ``manifest.json`` lists, bottom first, each with the diff id and the build
    step (the history entry's ``created_by``) its image config gives it."""
    try:
        images: Any = json.loads(manifest)
        parsed: Any = json.loads(config) if config else {}
    except ValueError:
        return []
    image = images[0] if isinstance(images, list) and images else {}
    names = [str(name) for name in (image.get("Layers") or [])] if isinstance(image, dict) else []
    rootfs = parsed.get("rootfs") if isinstance(parsed, dict) else None
    diff_ids = [str(i) for i in (rootfs or {}).get("diff_ids") or []]
    history = parsed.get("history") if isinstance(parsed, dict) else None
    steps = [
        step_text(str(entry.get("created_by") or ""))
        for entry in history or []
        if isinstance(entry, dict) and not entry.get("empty_layer")
    ]
    return [
        LayerInfo(
            name=name,
            diff_id=diff_ids[index] if index < len(diff_ids) else "",
            created_by=steps[index] if index < len(steps) else "",
        )
        for index, name in enumerate(names)
    ]


def config_name(manifest: bytes) -> str | None:
    """The image config's file name in a ``docker save`` tar, from its manifest."""
    try:
        images: Any = json.loads(manifest)
    except ValueError:
        return None
    if isinstance(images, list) and images and isinstance(images[0], dict):
        found = images[0].get("Config")
        return str(found) if found else None
    return None


def step_text(created_by: str) -> str:
    """A history entry as the Dockerfile said it: ``/bin/sh -c #(nop) COPY dir:… in /x`` becomes
    ``COPY … /x``, ``/bin/sh -c pip install …`` becomes ``RUN pip install …``."""
    text = " ".join(created_by.split())
    if text.startswith("/bin/sh -c #(nop) "):
        return text.removeprefix("/bin/sh -c #(nop) ").strip()
    if text.startswith("/bin/sh -c "):
        return "RUN " + text.removeprefix("/bin/sh -c ")
    return text
