"""What to ship, per deployment scenario, decided from one run's measurements only.

Each scenario asks one question a team asks before a release, and answers it from the rows this
run produced (never a row carried over from an earlier run) and the portability grid's cells:

- which artifacts *passed* where the scenario deploys (a grid cell, or the local smoke test for
  what the grid does not run: the container images);
- among those, the one whose measured figure matters most there (a warm or cold start, a size,
  a compressed image), with its spread, and the runner-up;
- when nothing measured passes, that is the answer, with the remedy.

A scenario whose systems were not measured at all (no grid, no musl target) says so rather than
guess from static facts: the grid is where "will it run there?" is observed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from packmatrix.model.grid import Grid, GridCell, GridTarget
from packmatrix.model.results import FormatResult, Report
from packmatrix.model.ship import Recommendation
from packmatrix.model.stats import Stat
from packmatrix.model.units import human_bytes, seconds

FROZEN = ("pyinstaller-onefile", "pyinstaller-onedir", "nuitka")
"""Formats that bring their own Python: nothing to install on the target."""
IMAGES = ("docker", "docker-frozen")
INDEX_INSTALLED = ("wheel", "sdist")
"""Formats whose install fetches the dependencies (from an index or a wheelhouse)."""
SIMPLER: dict[str, tuple[str, str]] = {
    "sdist": ("wheel", "the wheel installs without a build step on the target"),
}
"""Format → the format that ships the same code with less needed on the target, and why: on a
tie within the noise, that one is recommended."""
NO_GRID = "the portability grid did not run, so no other system was measured"
RUN_GRID = "run with --targets all (or name the systems you deploy on)"


@dataclass(frozen=True)
class Candidate:
    """A passed row of this run, and the grid cells that passed or failed on the targets of a
    scenario."""

    row: FormatResult
    passed: list[GridCell]
    failed: list[GridCell]

    @property
    def name(self) -> str:
        return self.row.name

    def stat(self, attr: str) -> Stat | None:
        value = self.row.figures.value(attr)
        return value if isinstance(value, Stat) else None


def _median(stat: Stat | None) -> float:
    return stat.median if stat is not None else float("inf")


def _cells(cells: Sequence[GridCell]) -> str:
    return ", ".join(cell.target for cell in cells)


def _passed_rows(doc: Report) -> list[FormatResult]:
    return [row for row in doc.formats if doc.ran(row) and row.passed]


def _grid(doc: Report) -> Grid | None:
    return doc.grid if doc.grid is not None and doc.grid.status == "ran" else None


def native(grid: Grid) -> list[GridTarget]:
    """The target systems of this host's machine: not an emulated one (arm64 is the arm64
    scenario's alone, not a Debian server of another scenario), nor a platform column (whose
    cells are container images, each with its own OS: no system's Python or libc is measured
    there)."""
    return [t for t in grid.targets if not t.emulated and not t.platform]


def _on(doc: Report, targets: Sequence[GridTarget]) -> list[Candidate]:
    """Each passed row that passed on at least one of ``targets``, most targets first."""
    grid = _grid(doc)
    if grid is None:
        return []
    names = {target.name for target in targets}
    found = []
    for row in _passed_rows(doc):
        cells = [cell for cell in grid.cells if cell.format == row.name and cell.target in names]
        passed = [cell for cell in cells if cell.passed]
        if passed:
            found.append(Candidate(row, passed, [cell for cell in cells if not cell.passed]))
    return sorted(found, key=lambda c: -len(c.passed))


def _failures(doc: Report, targets: Sequence[GridTarget]) -> list[str]:
    """Why the passed rows fail on ``targets``: one line per distinct reason, with formats."""
    grid = _grid(doc)
    if grid is None:
        return []
    names = {target.name for target in targets}
    reasons: dict[str, list[str]] = {}
    for cell in grid.cells:
        if cell.target in names and not cell.passed:
            reasons.setdefault(cell.reason, []).append(f"{cell.format} on {cell.target}")
    return [f"{reason}: {', '.join(where)}" for reason, where in reasons.items()]


def _evidence(candidate: Candidate) -> list[str]:
    lines = [f"{candidate.name} on {cell.target}: ✓ {cell.reason}" for cell in candidate.passed]
    lines += [f"{candidate.name} on {cell.target}: ✗ {cell.reason}" for cell in candidate.failed]
    return lines


def _answer(
    scenario: str,
    title: str,
    ranked: Sequence[Candidate],
    because: Callable[[Candidate], str],
    *,
    remedy: str,
    nothing: str,
    failures: Sequence[str] = (),
    tie: str | None = "startup_warm",
) -> Recommendation:
    """The first of ``ranked``, why (``because``), and the runner-up; or nothing, and why."""
    if not ranked:
        return Recommendation(
            scenario=scenario,
            title=title,
            artifact=None,
            why=nothing,
            evidence=list(failures),
            remedy=remedy,
        )
    best, *rest = ranked
    second = rest[0] if rest else None
    tied = second is not None and tie is not None and _overlap(best.stat(tie), second.stat(tie))
    simpler, why_simpler = SIMPLER.get(best.name, ("", ""))
    swapped = tied and second is not None and second.name == simpler
    if swapped and second is not None:
        best, second = second, best
    second_why = because(second) if second else ""
    if tied:
        second_why += "; its spread overlaps the first's: a tie within the noise, " + (
            f"and {why_simpler}" if swapped else "either will do"
        )
    return Recommendation(
        scenario=scenario,
        title=title,
        artifact=best.name,
        why=because(best),
        runner_up=second.name if second else None,
        runner_up_why=second_why,
        evidence=_evidence(best) + (_evidence(second) if second else []),
    )


def _overlap(first: Stat | None, second: Stat | None) -> bool:
    """Two measured figures whose min–max ranges overlap."""
    return first is not None and second is not None and first.max >= second.min


def _warm(candidate: Candidate) -> str:
    return f"warm start {seconds(candidate.stat('startup_warm'))}"


def _cold(candidate: Candidate) -> str:
    return f"cold start {seconds(candidate.stat('startup_cold'))}"


def _coverage(candidate: Candidate) -> str:
    where = f"passed on {_cells(candidate.passed)}"
    if candidate.failed:
        where += f"; fails on {_cells(candidate.failed)} ({candidate.failed[0].reason})"
    return where


# -- the scenarios ------------------------------------------------------------------------------
def app_python(doc: Report) -> Recommendation:
    python = ".".join(str(doc.host.get("python", "")).split(".")[:2])
    title = f"A server that has the app's Python ({python})"
    grid = _grid(doc)
    if grid is None:  # this host has the app's Python: its own smoke tests are the measurement
        here = f"this host (Python {doc.host.get('python')})"
        needs = [
            Candidate(
                row, [GridCell(format=row.name, target=here, passed=True, reason="passed")], []
            )
            for row in _passed_rows(doc)
            if row.name not in (*FROZEN, *IMAGES)
        ]
    else:
        targets = [t for t in native(grid) if t.python == python]
        needs = [c for c in _on(doc, targets) if c.name not in FROZEN]
    ranked = sorted(
        needs, key=lambda c: (_median(c.stat("startup_warm")), c.row.figures.artifact_bytes or 0)
    )
    return _answer(
        "app-python",
        title,
        ranked,
        lambda c: (
            f"{_coverage(c)}; {_warm(c)}, {human_bytes(c.row.figures.artifact_bytes)} to copy"
        ),
        remedy="add a target with that Python to --targets",
        nothing=f"nothing that needs a Python passed with Python {python}",
    )


def no_python(doc: Report) -> Recommendation:
    title = "Debian/Ubuntu servers with no Python"
    grid = _grid(doc)
    targets = (
        [t for t in native(grid) if t.python is None and t.libc_text.startswith("glibc")]
        if grid
        else []
    )
    ranked = sorted(
        _on(doc, targets), key=lambda c: (-len(c.passed), _median(c.stat("startup_warm")))
    )
    return _answer(
        "no-python",
        title,
        ranked,
        lambda c: f"{_coverage(c)}; {_warm(c)}",
        remedy=RUN_GRID if grid is None else _FROZEN_REMEDY,
        nothing=NO_GRID
        if grid is None
        else "nothing measured passes on a glibc system without Python",
        failures=_failures(doc, targets),
    )


_FROZEN_REMEDY = (
    "build the frozen app (PyInstaller, Nuitka) on the oldest system you support: its glibc "
    "floor is the build machine's; or ship the container image, which carries its own system"
)


def oldest_glibc(doc: Report) -> Recommendation:
    grid = _grid(doc)
    glibc = [t for t in native(grid) if t.glibc] if grid else []
    if not glibc:
        return _answer(
            "oldest-glibc",
            "The oldest glibc on the grid",
            [],
            _warm,
            remedy=RUN_GRID,
            nothing=NO_GRID,
        )
    oldest = min(tuple(int(p) for p in t.glibc.split(".")) for t in glibc)
    version = ".".join(map(str, oldest))
    targets = [t for t in glibc if t.glibc == version]
    title = f"The oldest glibc on the grid ({version}: {', '.join(t.name for t in targets)})"
    ranked = sorted(
        _on(doc, targets), key=lambda c: (-len(c.passed), _median(c.stat("startup_warm")))
    )
    return _answer(
        "oldest-glibc",
        title,
        ranked,
        lambda c: f"{_coverage(c)}; {_warm(c)}",
        remedy=(
            f"build the frozen app (PyInstaller, Nuitka) on a system with glibc {version} or "
            "older: a frozen app's glibc floor is its build machine's; or ship the container "
            "image, which carries its own system"
        ),
        nothing=f"nothing measured passes on glibc {version}",
        failures=_failures(doc, targets),
    )


def musl(doc: Report) -> Recommendation:
    title = "musl systems (Alpine)"
    grid = _grid(doc)
    targets = [t for t in grid.targets if t.musl] if grid else []
    if not targets:
        nothing = NO_GRID if grid is None else "no musl system was on the grid"
        return _answer(
            "musl", title, [], _warm, remedy="add --targets musl (or alpine:3.20)", nothing=nothing
        )
    ranked = sorted(_on(doc, targets), key=lambda c: _median(c.stat("startup_warm")))
    return _answer(
        "musl",
        title,
        ranked,
        lambda c: f"{_coverage(c)}; {_warm(c)}",
        remedy=(
            "glibc-linked binaries and manylinux wheels cannot run on musl: build on the musl "
            "system itself (musllinux wheels, a frozen app built on Alpine), or ship the "
            "container image, which brings its own libc"
        ),
        nothing="nothing measured passes on musl",
        failures=_failures(doc, targets),
    )


def arm64(doc: Report) -> Recommendation | None:
    grid = _grid(doc)
    targets = [t for t in grid.targets if t.arch == "aarch64"] if grid else []
    if not targets:
        return None
    ranked = sorted(
        _on(doc, targets), key=lambda c: (-len(c.passed), _median(c.stat("startup_warm")))
    )
    return _answer(
        "arm64",
        "arm64 servers",
        ranked,
        lambda c: f"{_coverage(c)}; {_warm(c)} (on this x86_64 host)",
        remedy="build the frozen app on arm64, or ship a pure-Python artifact with arm64 wheels",
        nothing="nothing measured passes on arm64",
        failures=_failures(doc, targets),
    )


def container(doc: Report) -> Recommendation:
    rows = [Candidate(row, [], []) for row in _passed_rows(doc) if row.name in IMAGES]
    ranked = sorted(rows, key=lambda c: c.row.figures.image_compressed_bytes or float("inf"))

    def because(c: Candidate) -> str:
        pulled = human_bytes(c.row.figures.image_compressed_bytes)
        return f"its image is {pulled} compressed (what a node pulls), {_warm(c)}"

    return _answer(
        "container",
        "A container platform (Kubernetes, ECS, Cloud Run…)",
        ranked,
        because,
        remedy="start a Docker Engine and run docker and docker-frozen",
        nothing="no container image passed in this run",
        tie=None,
    )


def size_budget(doc: Report) -> Recommendation:
    grid = _grid(doc)
    rows = [
        Candidate(
            row, [c for c in grid.cells if c.format == row.name and c.passed] if grid else [], []
        )
        for row in _passed_rows(doc)
        if row.name not in INDEX_INSTALLED and row.figures.artifact_bytes
    ]
    ranked = sorted(rows, key=lambda c: c.row.figures.artifact_bytes or 0)

    def because(c: Candidate) -> str:
        where = f"; passed on {_cells(c.passed)}" if c.passed else ""
        return f"{human_bytes(c.row.figures.artifact_bytes)}, dependencies inside{where}"

    return _answer(
        "size",
        "A size budget (the smallest artifact that carries its dependencies)",
        ranked,
        because,
        remedy="",
        nothing="no self-contained artifact passed in this run",
        tie=None,
    )


def cold_start(doc: Report) -> Recommendation:
    rows = [Candidate(row, [], []) for row in _passed_rows(doc) if row.figures.startup_cold]
    ranked = sorted(rows, key=lambda c: _median(c.stat("startup_cold")))
    return _answer(
        "cold-start",
        "The fastest cold start (scale to zero, CLI-like use)",
        ranked,
        lambda c: f"{_cold(c)}, {_warm(c)}",
        remedy="",
        nothing="no start was measured in this run",
        tie="startup_cold",
    )


def workshop(doc: Report) -> Recommendation:
    title = "A workshop laptop with nothing installed (no Python, no Docker)"
    grid = _grid(doc)
    targets = [t for t in native(grid) if t.python is None and not t.musl] if grid else []
    frozen = [row for row in _passed_rows(doc) if row.name in FROZEN]
    if grid is not None:
        found = {c.name: c for c in _on(doc, targets)}
        rows = [found[row.name] for row in frozen if row.name in found]
    else:
        rows = [Candidate(row, [], []) for row in frozen]
    ranked = sorted(
        rows,
        key=lambda c: (
            -len(c.passed),
            len(c.row.artifact or []) > 1,
            _median(c.stat("startup_cold")),
        ),
    )

    def because(c: Candidate) -> str:
        shape = "one file to hand out" if len(c.row.artifact or []) == 1 else "a folder to hand out"
        where = f"{_coverage(c)}; " if c.passed else ""
        return f"{where}{shape}, {human_bytes(c.row.figures.artifact_bytes)}; {_cold(c)}"

    return _answer(
        "workshop",
        title,
        ranked,
        because,
        remedy=_FROZEN_REMEDY,
        nothing="no frozen app passed in this run",
        tie=None,
        failures=_failures(doc, targets),
    )


def recommend(doc: Report) -> list[Recommendation]:
    """Every scenario's answer, in the order a deployment discussion goes."""
    found = [
        app_python(doc),
        no_python(doc),
        oldest_glibc(doc),
        musl(doc),
        arm64(doc),
        container(doc),
        size_budget(doc),
        cold_start(doc),
        workshop(doc),
    ]
    return [item for item in found if item is not None]
