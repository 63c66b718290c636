"""The comparison with a baseline as the report keeps it (``run --baseline``): what a reader of
matrix.json, matrix.md and matrix.html sees, as typed text cells (``compare.render.record``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, kw_only=True)
class ComparisonRow:
    """One line of the comparison table: a format's status, or one of its figures."""

    format: str
    figure: str
    baseline: str
    current: str
    delta: str
    change: str
    verdict: str
    regression: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "figure": self.figure,
            "baseline": self.baseline,
            "current": self.current,
            "delta": self.delta,
            "change": self.change,
            "verdict": self.verdict,
            "regression": self.regression,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ComparisonRow:
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})


@dataclass(frozen=True, kw_only=True)
class ComparisonRecord:
    baseline_run: str
    baseline_source: str
    rules: str
    compared: int
    not_run: int
    regressions: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    rows: list[ComparisonRow] = field(default_factory=list)
    markdown_file: str | None = None
    """The comparison's Markdown, written next to the report."""

    @property
    def headline(self) -> str:
        counts = f"{self.compared} compared" + (f", {self.not_run} not run" if self.not_run else "")
        if self.regressions:
            return f"⚠ {len(self.regressions)} regression(s) ({counts})"
        return f"✓ no regression: {counts}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "baseline_run": self.baseline_run,
            "baseline_source": self.baseline_source,
            "rules": self.rules,
            "compared": self.compared,
            "not_run": self.not_run,
            "regressions": self.regressions,
            "notes": self.notes,
            "rows": [row.to_json() for row in self.rows],
        }
        if self.markdown_file is not None:
            out["markdown_file"] = self.markdown_file
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ComparisonRecord:
        return cls(
            baseline_run=str(data["baseline_run"]),
            baseline_source=str(data["baseline_source"]),
            rules=str(data.get("rules") or ""),
            compared=int(data.get("compared") or 0),
            not_run=int(data.get("not_run") or 0),
            regressions=list(data.get("regressions") or []),
            notes=list(data.get("notes") or []),
            rows=[ComparisonRow.from_json(row) for row in data.get("rows") or []],
            markdown_file=data.get("markdown_file"),
        )
