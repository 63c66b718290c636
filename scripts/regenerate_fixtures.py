"""Regenerate tests/fixtures/reports/*.json and tests/fixtures/platforms/*.json from real runs.

Every fixture is the ``matrix.json`` of a real ``packmatrix run`` on this machine, copied as
written and validated against the shipped schema; nothing is edited by hand or by this script.
Tests that need a doctored variant (a baseline with other figures, an old schema, ...) derive it
in code from these (tests/report_variants.py).

    python scripts/regenerate_fixtures.py            # or: nox -s fixtures
    python scripts/regenerate_fixtures.py --only mixed

The runs (``--runs 3`` keeps the files small):

- ``reports/venv-pex.json``: the sample app as wheel, sdist, pex and pex-venv.
- ``reports/pyinstaller.json``: the sample app as PyInstaller onefile and onedir.
- ``reports/mixed.json``: tests/fixtures/apps/plugin-app (a real packaging bug: a plugin imported
  only by name) in every format with no Docker Engine reachable (``DOCKER_HOST`` points at a
  socket that is not there): the installed formats pass, the frozen ones fail their smoke test,
  docker is skipped.
- ``platforms/linux.json``: the sample app in every format, docker included, and the portability
  grid on every target system (needs the engine, the local base image and the targets).
- ``platforms/linux-other-python.json``: the sample app as wheel and pex, run by packmatrix
  installed in a venv of another Python (``--other-python``; by default the newest other
  CPython found): a second host for merge.
- ``captured/`` (``--only captured``; not by default): real index file lists and real failure
  output (``scripts/capture_outputs.py``).
- ``macho/*.whl`` (``--macho`` or ``--only macho``; not by default): MarkupSafe's macOS wheels from
  PyPI, thin arm64 and universal2, whose compiled extension is the real Mach-O the portability
  tests read (no macOS binary is built on Linux).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from packmatrix.report import render as report

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
SAMPLE_APP = ROOT / "sample_app"
PLUGIN_APP = FIXTURES / "apps" / "plugin-app"
NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}


@dataclass(frozen=True)
class Fixture:
    """One fixture: the report of one real ``packmatrix run``."""

    path: str
    app: Path
    formats: str | None
    """``--formats``; None for the default set (every format but the slow ones, docker
    optional)."""
    env: Mapping[str, str] = field(default_factory=dict)
    other_python: bool = False
    targets: str = "none"
    """``--targets``: the grid only where a test reads it (it adds a minute)."""
    exit_codes: tuple[int, ...] = (0, 1)
    """What the run may exit with: 1 (a format failed) is a real report too; 2 and up (bad
    input, an internal error, interrupted) are not."""


FIXTURE_LIST = (
    Fixture("reports/venv-pex.json", SAMPLE_APP, "wheel,sdist,pex,pex-venv"),
    Fixture("reports/pyinstaller.json", SAMPLE_APP, "pyinstaller-onefile,pyinstaller-onedir"),
    Fixture("reports/mixed.json", PLUGIN_APP, None, env=NO_ENGINE, exit_codes=(1,)),
    Fixture("platforms/linux.json", SAMPLE_APP, None, targets="all"),
    Fixture(
        "platforms/linux-other-python.json",
        SAMPLE_APP,
        "wheel,pex,docker",
        env=NO_ENGINE,
        other_python=True,
        exit_codes=(1,),
    ),
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="warm starts per format (default 3)")
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="regenerate only this fixture (its file stem, e.g. mixed); repeatable",
    )
    parser.add_argument(
        "--macho",
        action="store_true",
        help="also download the Mach-O wheels (tests/fixtures/macho)",
    )
    parser.add_argument(
        "--other-python",
        help="the interpreter of the second host for merge (default: the first python3.1x "
        "found that runs and is not this Python's minor version)",
    )
    args = parser.parse_args(argv)
    chosen = [f for f in FIXTURE_LIST if not args.only or Path(f.path).stem in args.only]
    macho = args.macho or bool(args.only and "macho" in args.only)
    captures = bool(args.only and "captured" in args.only)
    if not chosen and not macho and not captures:
        parser.error(f"no fixture named {', '.join(args.only)}")
    if macho:
        _download_macho()
    if captures:
        _call([sys.executable, str(ROOT / "scripts" / "capture_outputs.py")])
    with tempfile.TemporaryDirectory(prefix="packmatrix-fixtures-") as scratch:
        work = Path(scratch)
        other = _other_packmatrix(work, args.other_python) if _needs_other(chosen) else None
        for fixture in chosen:
            command = [str(other)] if fixture.other_python and other else _this_packmatrix()
            _regenerate(fixture, command, work, args.runs)
    return 0


MACHO_WHEELS = ("macosx_11_0_arm64", "macosx_10_9_universal2")
"""Platform tags of MarkupSafe 3.0.2 (cp311) wheels: a thin and a universal Mach-O extension."""


def _download_macho() -> None:
    target = FIXTURES / "macho"
    for platform in MACHO_WHEELS:
        argv = [sys.executable, "-m", "pip", "download", "-q", "--no-deps"]
        argv += ["--only-binary=:all:", "--platform", platform, "--python-version", "3.11"]
        _call([*argv, "markupsafe==3.0.2", "-d", str(target)])
    print(f"== macho: {', '.join(sorted(p.name for p in target.glob('*.whl')))}", flush=True)


def _needs_other(fixtures: Sequence[Fixture]) -> bool:
    return any(fixture.other_python for fixture in fixtures)


def _this_packmatrix() -> list[str]:
    return [sys.executable, "-m", "packmatrix"]


def _other_interpreter(named: str | None) -> str:
    """An interpreter of another minor version than this one (pyenv shims that don't run are
    passed over)."""
    this = f"{sys.version_info.major}.{sys.version_info.minor}"
    if named:
        candidates = [named]
    else:
        pyenv = sorted(Path.home().glob(".pyenv/versions/3.1*/bin/python3"), reverse=True)
        on_path = (shutil.which(f"python3.{minor}") for minor in range(14, 9, -1))
        candidates = [str(path) for path in pyenv] + [path for path in on_path if path]
    for candidate in candidates:
        probe = subprocess.run(
            [candidate, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            check=False,
        )
        if probe.returncode == 0 and probe.stdout.strip() not in ("", this):
            return candidate
    raise SystemExit(f"regenerate_fixtures: no Python other than {this} found (--other-python)")


def _other_packmatrix(work: Path, python: str | None) -> Path:
    """packmatrix installed (from this checkout) in a venv of another interpreter."""
    interpreter = _other_interpreter(python)
    print(f"== the second host's Python: {interpreter}", flush=True)
    venv = work / "other-venv"
    _call([interpreter, "-m", "venv", str(venv)])
    _call([str(venv / "bin" / "pip"), "install", "-q", str(ROOT)])
    return venv / "bin" / "packmatrix"


def _regenerate(fixture: Fixture, command: list[str], work: Path, runs: int) -> None:
    reports = work / Path(fixture.path).stem
    argv = [
        *command,
        "run",
        "--app",
        str(fixture.app),
        *(["--formats", fixture.formats] if fixture.formats else []),
        *("--targets", fixture.targets),
        "--runs",
        str(runs),
        "--warm-budget",
        "0",  # exactly --runs warm starts: small fixtures, the same n every time
        "--rebuild",  # real builds and their real times, never a reuse from the artifact cache
        "--reports",
        str(reports),
    ]
    print(f"== {fixture.path}: {' '.join(argv[len(command) :])}", flush=True)
    code = _call(argv, env=os.environ | dict(fixture.env), allowed=fixture.exit_codes)
    data = json.loads((reports / "matrix.json").read_text(encoding="utf-8"))
    report.validate(data)
    target = FIXTURES / fixture.path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    failed = [row["name"] for row in data["formats"] if row["status"] == "failed"]
    print(f"== {fixture.path}: written (exit {code}; failed: {', '.join(failed) or 'none'})")


def _call(
    argv: list[str],
    env: Mapping[str, str] | None = None,
    allowed: tuple[int, ...] = (0,),
) -> int:
    completed = subprocess.run(argv, cwd=ROOT, env=env, check=False)
    if completed.returncode not in allowed:
        raise SystemExit(
            f"regenerate_fixtures: {' '.join(argv)} exited {completed.returncode}, "
            f"expected {' or '.join(map(str, allowed))}"
        )
    return int(completed.returncode)


if __name__ == "__main__":
    sys.exit(main())
