"""A "What to ship" answer for one deployment scenario, as the report keeps it
(``Report.recommendations``; optional, so reports made before it still read and validate).
The answers are made from one run's measurements by ``packmatrix.report.ship``."""

from __future__ import annotations

from dataclasses import dataclass, field

from packmatrix.serial import WHOLE, Json


@dataclass(frozen=True, kw_only=True)
class Recommendation(Json):
    """What to ship for one deployment scenario, why, and the runner-up."""

    __pydantic_config__ = WHOLE

    scenario: str
    """A short key: app-python, no-python, oldest-glibc, musl, arm64, container, size,
    cold-start, workshop."""
    title: str
    """The scenario in words: ``A server that has the app's Python (3.11)``."""
    artifact: str | None
    """The format to ship; None when nothing measured passes there."""
    why: str
    """What decides it, with the figures; or why nothing passes."""
    runner_up: str | None = None
    """The next best format, when there is one."""
    runner_up_why: str = ""
    """Why it comes second."""
    evidence: list[str] = field(default_factory=list)
    """The cells and figures the answer rests on, one line each."""
    remedy: str = ""
    """What to do when nothing measured passes (or to do better)."""
