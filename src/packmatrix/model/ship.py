"""A "What to ship" answer for one deployment scenario, as the report keeps it
(``Report.recommendations``; optional, so reports made before it still read and validate).
The answers are made from one run's measurements by ``packmatrix.report.ship``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, kw_only=True)
class Recommendation:
    """What to ship for one scenario, why, and what comes next."""

    scenario: str
    """A short key: ``app-python``, ``no-python``, ``oldest-glibc``, ``musl``…"""
    title: str
    """The scenario in words: ``A server that has the app's Python (3.11)``."""
    artifact: str | None
    """The format to ship; None when nothing measured passes there."""
    why: str
    """What decides it, with the figures; or why nothing passes."""
    runner_up: str | None = None
    runner_up_why: str = ""
    evidence: list[str] = field(default_factory=list)
    """The cells and figures the answer rests on, one line each."""
    remedy: str = ""
    """What to do when nothing measured passes (or to do better)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "title": self.title,
            "artifact": self.artifact,
            "why": self.why,
            "runner_up": self.runner_up,
            "runner_up_why": self.runner_up_why,
            "evidence": list(self.evidence),
            "remedy": self.remedy,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Recommendation:
        artifact, runner_up = data.get("artifact"), data.get("runner_up")
        return cls(
            scenario=str(data["scenario"]),
            title=str(data.get("title") or ""),
            artifact=str(artifact) if artifact else None,
            why=str(data.get("why") or ""),
            runner_up=str(runner_up) if runner_up else None,
            runner_up_why=str(data.get("runner_up_why") or ""),
            evidence=[str(line) for line in data.get("evidence") or []],
            remedy=str(data.get("remedy") or ""),
        )
