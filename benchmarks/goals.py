"""The figures issue 13 set goals for (tuned profile, this kind of machine), read from a report.

Printed by ``nox -s benchmark`` after the stopwatch, so the figures and the check of the clock
that took them come together. A goal whose formats the run did not build says so and how to
include them; nothing here is a test: a figure that misses its goal is printed as MISSED.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from packmatrix.model.results import FormatResult, Report, Status

MB = 1_000_000


@dataclass(frozen=True)
class Goal:
    what: str
    formats: tuple[str, ...]
    measure: Callable[[dict[str, FormatResult]], tuple[float, str]]
    """The figure, and how it reads."""
    limit: Callable[[dict[str, FormatResult]], float]
    """The goal's bound: the figure must be at most this."""


def warm(name: str) -> Callable[[dict[str, FormatResult]], tuple[float, str]]:
    def figure(rows: dict[str, FormatResult]) -> tuple[float, str]:
        stat = rows[name].figures.startup_warm
        if stat is None:
            raise LookupError(f"{name} has no warm start")
        return stat.median, f"{stat.median:.3f} s ({stat.min:.3f}–{stat.max:.3f}, n={stat.n})"

    return figure


def size_mb(name: str, attr: str) -> Callable[[dict[str, FormatResult]], tuple[float, str]]:
    """A size figure (``artifact_bytes``, ``image_bytes``) in MB."""

    def figure(rows: dict[str, FormatResult]) -> tuple[float, str]:
        size = getattr(rows[name].figures, attr)
        if size is None:
            raise LookupError(f"{name} has no {attr}")
        return size / MB, f"{size / MB:.1f} MB"

    return figure


def fixed(value: float) -> Callable[[dict[str, FormatResult]], float]:
    return lambda rows: value


GOALS = (
    Goal(
        "onefile size",
        ("pyinstaller-onefile",),
        size_mb("pyinstaller-onefile", "artifact_bytes"),
        fixed(11),
    ),
    Goal("onefile warm start", ("pyinstaller-onefile",), warm("pyinstaller-onefile"), fixed(0.45)),
    Goal("onedir warm start", ("pyinstaller-onedir",), warm("pyinstaller-onedir"), fixed(0.22)),
    Goal("pex-venv warm start", ("pex-venv",), warm("pex-venv"), fixed(0.25)),
    Goal("nuitka warm start", ("nuitka",), warm("nuitka"), fixed(0.25)),
    Goal(
        "docker-frozen image, at most 60 % of the Python image",
        ("docker", "docker-frozen"),
        size_mb("docker-frozen", "image_bytes"),
        lambda rows: size_mb("docker", "image_bytes")(rows)[0] * 0.6,
    ),
    Goal(
        "docker-frozen warm start, no slower than the Python image's",
        ("docker", "docker-frozen"),
        warm("docker-frozen"),
        lambda rows: warm("docker")(rows)[0],
    ),
)


def print_goals(doc: Report) -> int:
    """One line per goal; the number missed."""
    rows = {row.name: row for row in doc.formats if row.status is Status.PASSED}
    profile = doc.run.options.get("profile")
    print(f"\nissue 13's goals (profile {profile or '?'}; the goals are for the tuned profile):")
    missed = 0
    for goal in GOALS:
        absent = [name for name in goal.formats if name not in rows]
        if absent:
            print(f"  {goal.what:<60} not measured: add --formats {','.join(absent)}")
            continue
        value, text = goal.measure(rows)
        bound = goal.limit(rows)
        verdict = "met" if value <= bound else "MISSED"
        missed += verdict == "MISSED"
        print(f"  {goal.what:<60} {text} (goal ≤ {bound:.3g}): {verdict}")
    return missed
