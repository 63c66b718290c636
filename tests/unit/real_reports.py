"""The real reports under tests/fixtures and the variants tests derive from them in code.

Every JSON file under ``fixtures/reports`` and ``fixtures/platforms`` is the ``matrix.json`` of a
real ``packmatrix run`` on one Linux host, written by ``scripts/regenerate_fixtures.py``
(``nox -s fixtures``) and never edited:

- ``reports/venv-pex.json``: the sample app as wheel, sdist, pex and pex-venv, all passed.
- ``reports/pyinstaller.json``: the sample app as PyInstaller onefile and onedir, both passed.
- ``reports/mixed.json``: ``fixtures/apps/plugin-app`` (its plugin imported only by name) in
  every default format without a Docker Engine: the venv and zipapp formats passed, both
  PyInstaller formats FAILED the "plugin loaded by name" check, docker and docker-frozen SKIPPED.
- ``platforms/linux.json``: the sample app in every default format, docker included, all
  passed, with the portability grid of every artifact on the six target systems.
- ``platforms/linux-other-python.json``: the sample app as wheel, pex and docker, run by
  packmatrix on another CPython of the same host (no engine there: docker FAILED, as
  ``--formats`` named it): a second platform for merge.

A variant a test needs (a baseline with other figures, a document of the previous schema major)
is made here from a real report, so what it changes is in plain sight.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any, TypeVar

from packmatrix.model.results import FormatResult, Report
from packmatrix.model.stats import Stat

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REPORTS = FIXTURES / "reports"
PLATFORMS = FIXTURES / "platforms"
LINUX = PLATFORMS / "linux.json"
OTHER_PYTHON = PLATFORMS / "linux-other-python.json"
SAMPLES = sorted(path.stem for path in REPORTS.glob("*.json"))
"""The names of the real reports under ``fixtures/reports``."""

Doc = dict[str, Any]
T = TypeVar("T")


def raw(path: Path) -> Doc:
    """A report's JSON as stored."""
    data: Doc = json.loads(path.read_text(encoding="utf-8"))
    return data


def sample(name: str) -> Doc:
    """A report under ``fixtures/reports`` by name (``mixed``, ``venv-pex``, ...)."""
    return raw(REPORTS / f"{name}.json")


def typed(path: Path) -> Report:
    return Report.from_json(raw(path))


def write(path: Path, doc: object) -> Path:
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def previous_major(doc: Doc) -> Doc:
    """The same report as packmatrix 1.x wrote it: schema 1.0, a free ``extra`` object in
    every row (the one shape 2.0 dropped)."""
    old = copy.deepcopy(doc)
    old["schema_version"] = "1.0"
    for row in old["formats"]:
        row["extra"] = {}
    return old


def row(report: Report, name: str) -> FormatResult:
    found = report.result(name)
    assert found is not None, f"{name} is not in the report"
    return found


def scaled(stat: Stat, factor: float) -> Stat:
    return Stat.of([sample * factor for sample in stat.samples], stat.unit)


def doctored_baseline(current: Report) -> Report:
    """A baseline that, compared with ``current``, shows each rule at work.

    - pex: artifact 10 % smaller in the baseline, so the current one is +11.1 % (regression);
    - pex-venv: warm starts half as long, so the current ones are ×2 (regression);
    - sdist: warm starts shorter (by 28 %, or more so the change passes 50 ms) but the slowest
      one as now: the median grew past both thresholds with the ranges overlapping (noise);
    - wheel: artifact 3 % smaller (within the 5 % threshold: same);
    - docker: build half as long (+100 %, informational only) and artifact 1/0.83 as large
      (−17 %: improved).

    Only formats that pass on any host are doctored, so the rules show whatever state the
    frozen formats are in.
    """
    baseline = copy.deepcopy(current)
    baseline.run = dataclasses.replace(baseline.run, id=f"{current.run.id}-doctored")
    pex = row(baseline, "pex").figures
    pex.artifact_bytes = round(_present(pex.artifact_bytes) * 0.9)
    venv = row(baseline, "pex-venv").figures
    venv.startup_warm = scaled(_present(venv.startup_warm), 0.5)
    sdist = row(baseline, "sdist").figures
    warm = _present(sdist.startup_warm)
    growth = max(1.28, warm.median / max(warm.median - 0.06, 1e-3))  # past 20 % and 50 ms
    faster = sorted(sample / growth for sample in warm.samples)
    sdist.startup_warm = Stat.of([*faster[:-1], max(warm.samples)], warm.unit)
    wheel = row(baseline, "wheel").figures
    wheel.artifact_bytes = round(_present(wheel.artifact_bytes) / 1.03)
    docker = row(baseline, "docker").figures
    docker.build_seconds = scaled(_present(docker.build_seconds), 0.5)
    docker.artifact_bytes = round(_present(docker.artifact_bytes) / 0.83)
    return baseline


def _present(value: T | None) -> T:
    assert value is not None
    return value
