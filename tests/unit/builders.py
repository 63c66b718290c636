"""Small real artifacts, built in a test's tmp_path: zips, sdists, tars, onefiles, images."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import marshal
import struct
import tarfile
import zipfile
import zlib
from pathlib import Path

STAMP = (2026, 11, 22, 2, 10, 0)
LATER = (2026, 11, 22, 2, 11, 0)
FILES = {"sample_app/__init__.py": b"VERSION = '1'\n", "sample_app/app.py": b"print('hi')\n"}


def write_zip(
    path: Path,
    files: dict[str, bytes] = FILES,
    *,
    stamps: dict[str, tuple[int, int, int, int, int, int]] | None = None,
    modes: dict[str, int] | None = None,
    compression: int = zipfile.ZIP_DEFLATED,
    shebang: bytes = b"",
) -> Path:
    """A zip like a wheel (or a pex, with ``shebang``) with fixed timestamps and modes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, (stamps or {}).get(name, STAMP))
            info.external_attr = (modes or {}).get(name, 0o100644) << 16
            info.compress_type = compression
            archive.writestr(info, data)
    path.write_bytes(shebang + buffer.getvalue())
    return path


def write_sdist(
    path: Path,
    files: dict[str, bytes] = FILES,
    *,
    gzip_mtime: int = 1700000000,
    gzip_name: str = "sample_app-1.0.tar",
    mtime: int = 1700000000,
    uid: int = 0,
    uname: str = "",
    mode: int = 0o644,
) -> Path:
    """A tar.gz like an sdist, every header field fixed unless asked otherwise."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(f"sample_app-1.0/{name}")
            info.size, info.mtime, info.uid, info.uname, info.mode = (
                len(data),
                mtime,
                uid,
                uname,
                mode,
            )
            archive.addfile(info, io.BytesIO(data))
    with (
        path.open("wb") as out,
        gzip.GzipFile(filename=gzip_name, mode="wb", fileobj=out, mtime=gzip_mtime) as gz,
    ):
        gz.write(raw.getvalue())
    return path


def write_onefile(path: Path, entries: dict[str, bytes], *, bootloader: bytes = b"") -> Path:
    """A fake PyInstaller onefile: an ELF-looking stub with a CArchive (PKG) appended."""
    blobs, toc = b"", b""
    for name, data in entries.items():
        is_pyz = name.endswith(".pyz")
        packed = data if is_pyz else zlib.compress(data)
        encoded = name.encode() + b"\0"
        encoded += b"\0" * (-len(encoded) % 16)
        toc += struct.pack(
            "!IIIIBc",
            18 + len(encoded),
            len(blobs),
            len(packed),
            len(data),
            0 if is_pyz else 1,
            b"z" if is_pyz else b"x",
        )
        toc += encoded
        blobs += packed
    cookie_length = struct.calcsize("!8sIIII64s")
    length = len(blobs) + len(toc) + cookie_length
    cookie = struct.pack(
        "!8sIIII64s", b"MEI\014\013\012\013\016", length, len(blobs), len(toc), 311, b"libpy.so"
    )
    path.write_bytes(b"\x7fELF" + (bootloader or b"\0" * 60) + blobs + toc + cookie)
    return path


def pyz(modules: dict[str, bytes], *, typecodes: dict[str, int] | None = None) -> bytes:
    """A PYZ archive: header, zlib-compressed entries, then a marshalled TOC.

    Every entry is a module (type 0) unless ``typecodes`` says otherwise (1 a package, 3 a
    namespace package)."""
    blobs, toc = b"", []
    for name, data in modules.items():
        packed = zlib.compress(data)
        toc.append((name, ((typecodes or {}).get(name, 0), 12 + len(blobs), len(packed))))
        blobs += packed
    return b"PYZ\0" + b"\0" * 4 + struct.pack("!i", 12 + len(blobs)) + blobs + marshal.dumps(toc)


def tar_bytes(files: dict[str, bytes], *, compress: bool = False, mtime: int = 0) -> bytes:
    """A tar of ``files`` (a name ending with '/' is a folder), gzip-compressed if asked."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name.rstrip("/"))
            info.mtime = mtime
            if name.endswith("/"):
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            else:
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if not name.endswith("/") else None)
    return gzip.compress(raw.getvalue(), mtime=0) if compress else raw.getvalue()


def write_image(
    path: Path,
    layers: list[dict[str, bytes]],
    *,
    oci: bool = False,
    compress: bool = False,
    steps: list[str] | None = None,
    mtime: int | list[int] = 0,
) -> Path:
    """A tar shaped like ``docker save`` output: a manifest.json, a config and one tar per layer.

    Layers are named ``layer<N>/layer.tar`` (the classic layout) or, with ``oci``,
    ``blobs/sha256/<digest>`` (the layout of Docker 25 and later). With ``steps``, the config
    has the layers' diff ids and a history entry per layer made by that step. ``mtime``: of
    every file, or per layer."""
    mtimes = mtime if isinstance(mtime, list) else [mtime] * len(layers)
    files: dict[str, bytes] = {}
    names = []
    config: dict[str, object] = {"config": {"Env": ["PATH=/usr/bin"]}}
    if steps is not None:
        raw = [tar_bytes(layer, mtime=when) for layer, when in zip(layers, mtimes, strict=True)]
        config["rootfs"] = {
            "type": "layers",
            "diff_ids": [f"sha256:{hashlib.sha256(data).hexdigest()}" for data in raw],
        }
        config["history"] = [
            {"created": f"2026-01-0{index + 1}T00:00:00Z", "created_by": step}
            for index, step in enumerate(steps)
        ]
        config["created"] = f"2026-01-0{len(steps)}T00:00:00Z"
        config["container"] = "a1b2c3"
    for index, layer in enumerate(layers):
        data = tar_bytes(layer, compress=compress, mtime=mtimes[index])
        name = (
            f"blobs/sha256/{hashlib.sha256(data).hexdigest()}" if oci else f"layer{index}/layer.tar"
        )
        files[name] = data
        names.append(name)
    files["config.json"] = json.dumps(config).encode()
    manifest = [{"Config": "config.json", "RepoTags": ["app:1"], "Layers": names}]
    files["manifest.json"] = json.dumps(manifest).encode()
    path.write_bytes(tar_bytes(files))
    return path
