"""Regenerate tests/fixtures/captured/: real index file lists and real failure output.

Nothing here is written by hand: each file is what the index answered or what a real program
printed when it really failed.

    python scripts/capture_outputs.py        # or: nox -s fixtures -- --only captured

- ``index/NAME-VERSION.json``: the wheels these released versions publish, as
  ``packmatrix.reading.indexfiles`` reads them from the index (the unit tests of ``wheeltags``
  choose pex-multi's wheels from them, offline).
- ``failures/stripped-openblas.txt``: ``import numpy`` after GNU strip rewrote the OpenBLAS
  auditwheel vendored into ``numpy.libs/`` (what PyInstaller's ``--strip`` did to it): the
  loader refuses the library.
- ``failures/missing-openblas.txt``: ``import numpy`` with that library gone.
- ``failures/no-wheel-for-python.txt``: a build log (``$ command`` then its output, as
  packmatrix's logs are written) of ``pip download`` asking numpy 2.4.6 for CPython 3.10.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from packmatrix.reading import indexfiles

ROOT = Path(__file__).resolve().parents[1]
CAPTURED = ROOT / "tests" / "fixtures" / "captured"
RELEASES = (
    ("numpy", "2.4.6"),
    ("cryptography", "51.0.1"),
    ("cffi", "2.1.1"),
    ("markupsafe", "3.0.2"),
    ("pycparser", "3.12"),
    ("flask", "3.1.2"),
)
"""Released versions whose wheels differ in shape: cp311-and-newer only (numpy), abi3 from
manylinux2014 to 2_34 (cryptography), one wheel per CPython (cffi, MarkupSafe), pure ones whose
Requires-Python leaves 3.9 out (pycparser 3.12) or keeps it (Flask)."""
NUMPY = "numpy==2.4.6"


def main() -> int:
    index = indexfiles.index_url()
    folder = CAPTURED / "index"
    folder.mkdir(parents=True, exist_ok=True)
    for name, version in RELEASES:
        files = indexfiles.wheels_of(name, version, indexfiles.listing(name, index))
        path = folder / f"{name}-{version}.json"
        path.write_text(json.dumps([item.__dict__ for item in files], indent=1) + "\n")
        print(f"== {path.relative_to(ROOT)}: {len(files)} wheels", flush=True)
    failures = CAPTURED / "failures"
    failures.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="packmatrix-captures-") as scratch:
        work = Path(scratch)
        _broken_numpy(work, failures)
        _no_wheel(work, failures)
    return 0


def _pip(*args: str) -> list[str]:
    return [sys.executable, "-m", "pip", "--disable-pip-version-check", *args]


def _broken_numpy(work: Path, failures: Path) -> None:
    """numpy for this Python, its vendored OpenBLAS stripped, then removed; each import's
    output as the app's log would hold it."""
    site = work / "site"
    tag = f"{sys.version_info.major}.{sys.version_info.minor}"
    _run(_pip("install", "-q", "--no-deps", "--only-binary=:all:", "--target", str(site), NUMPY))
    (openblas,) = (site / "numpy.libs").glob("libscipy_openblas*.so")
    _run(["strip", str(openblas)])
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}
    importing = [sys.executable, "-c", "import numpy"]
    stripped = _output(importing, env=env, cwd=work)
    _write(failures / "stripped-openblas.txt", stripped, f"strip, Python {tag}")
    openblas.unlink()
    missing = _output(importing, env=env, cwd=work)
    _write(failures / "missing-openblas.txt", missing, "removed")


def _no_wheel(work: Path, failures: Path) -> None:
    argv = _pip(
        *("download", "--no-deps", "--only-binary=:all:", "--dest", str(work / "house")),
        *("--python-version", "3.10", "--implementation", "cp", "--abi", "cp310", "--abi", "abi3"),
        *("--platform", "manylinux2014_x86_64", "--platform", "manylinux_2_17_x86_64"),
        NUMPY,
    )
    shown = ["python", *(arg.replace(str(work), "$WORK") for arg in argv[1:])]
    text = f"\n$ {' '.join(shown)}\n" + _output(argv, env=None, cwd=work)
    _write(failures / "no-wheel-for-python.txt", text, "pip download")


def _output(argv: list[str], *, env: dict[str, str] | None, cwd: Path) -> str:
    done = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=600
    )
    if done.returncode == 0:
        raise SystemExit(f"capture_outputs: {' '.join(argv)} did not fail")
    return done.stdout + done.stderr


def _run(argv: list[str]) -> None:
    subprocess.run(argv, check=True, timeout=600)


def _write(path: Path, text: str, what: str) -> None:
    path.write_text(text, encoding="utf-8")
    print(f"== {path.relative_to(ROOT)} ({what}): {len(text.splitlines())} lines", flush=True)


if __name__ == "__main__":
    sys.exit(main())
