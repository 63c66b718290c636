"""Merge the reports of several platforms (say ubuntu, macos and windows runners) into one
cross-platform document, so a format's portability across operating systems shows in one table.

The merged document::

    {
      "schema_version": "2.0",
      "kind": "merged",
      "tool": {"name": "packmatrix", "version": "…"},
      "app": {"name": "…", "version": "…"},
      "platforms": [
        {"id": "linux-x86_64", "label": "Linux x86_64", "os": "Linux", "arch": "x86_64",
         "platform": "linux-x86_64", "libc": "glibc 2.36", "python": "3.11.7",
         "run": {"id": "…", "started": "…", "status": "complete"}, "source": "…/matrix.json"}
      ],
      "formats": {
        "<format>": {
          "<platform id>": {"title": "…", "status": "passed", "reason": null,
                            "figures": {…as in matrix.json…}, "portability": {…}}
        }
      }
    }

A platform's id is ``<os>-<arch>`` in lower case, from the report's ``host``; a second report of
the same os and arch gets ``-2``, a third ``-3``. A format a platform did not run at all has no
entry under that platform. Formats keep the order they first appear in, platforms the order given.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from packmatrix import __version__
from packmatrix.compare.render import append_step_summary
from packmatrix.core.atomic import write_atomic
from packmatrix.errors import UsageError
from packmatrix.model.load import UnusableReport, host_label, load_report
from packmatrix.model.records import Figures
from packmatrix.model.results import SCHEMA_VERSION, FormatResult, Report, Status
from packmatrix.model.units import human_bytes, md_cell

KIND: Final = "merged"
STATUS_MARK: Final[dict[str, str]] = {
    Status.PASSED.value: "✅",
    Status.FAILED.value: "❌",
    Status.SKIPPED.value: "⏭",
}

Merged = dict[str, Any]
"""The merged document, as JSON (see the module's docstring)."""


def merge(reports: Sequence[tuple[str, Report]]) -> Merged:
    """One cross-platform document from ``(source, report)`` pairs of one app."""
    if not reports:
        raise UnusableReport("nothing to merge: give at least one matrix.json")
    first_source, first = reports[0]
    app = _app(first)
    for source, report in reports[1:]:
        if _app(report) != app:
            raise UnusableReport(
                f"{source} is {_app_text(_app(report))} but {first_source} is {_app_text(app)}: "
                "merge reports of one app"
            )
    platforms: list[dict[str, Any]] = []
    formats: dict[str, dict[str, Any]] = {}
    for source, report in reports:
        platform = _platform(report, source, taken={item["id"] for item in platforms})
        platforms.append(platform)
        for row in report.formats:
            formats.setdefault(row.name, {})[platform["id"]] = _cell(row)
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": KIND,
        "tool": {"name": "packmatrix", "version": __version__},
        "app": app,
        "platforms": platforms,
        "formats": formats,
    }


def merge_files(paths: Sequence[Path]) -> Merged:
    """Load every report (refusing what can't be merged) and merge them."""
    return merge([(str(path), load_report(path)) for path in paths])


def write(merged: Merged, output: Path) -> str:
    """Write the merged JSON to ``output`` and its Markdown next to it (``markdown_path``), each
    atomically; append the Markdown to the GitHub step summary when there is one. Returns the
    Markdown."""
    if markdown_path(output) == output:
        raise UsageError(f"-o {output}: give a .json path; the Markdown is written next to it")
    markdown = render_markdown(merged)
    write_atomic(output, json.dumps(merged, indent=2) + "\n")
    write_atomic(markdown_path(output), markdown)
    append_step_summary(markdown)
    return markdown


def markdown_path(output: Path) -> Path:
    """Where the Markdown of a merged report written to ``output`` goes: ``merged.md`` next to
    ``merged.json``."""
    return output.with_suffix(".md")


def _cell(row: FormatResult) -> dict[str, Any]:
    """One format on one platform, from the row's typed parts."""
    return {
        "title": row.title,
        "status": row.status.value,
        "reason": row.reason,
        "figures": row.figures.to_json(),
        "portability": row.portability.to_json() if row.portability is not None else {},
    }


def _app(report: Report) -> dict[str, Any]:
    return {"name": report.app.get("name"), "version": report.app.get("version")}


def _app_text(app: Mapping[str, Any]) -> str:
    return f"{app['name']} {app['version']}"


def _platform(report: Report, source: str, *, taken: set[str]) -> dict[str, Any]:
    host = report.host
    base = f"{host.get('os') or 'unknown'}-{host.get('arch') or 'unknown'}".lower()
    platform_id, count = base, 1
    while platform_id in taken:
        count += 1
        platform_id = f"{base}-{count}"
    label = host_label(host)
    return {
        "id": platform_id,
        "label": label if count == 1 else f"{label} ({count})",
        "os": host.get("os"),
        "arch": host.get("arch"),
        "platform": host.get("platform"),
        "libc": host.get("libc"),
        "python": host.get("python"),
        "run": {"id": report.run.id, "started": report.run.started, "status": report.run.status},
        "source": source,
    }


# -- Markdown -------------------------------------------------------------------------------------
def render_markdown(merged: Merged) -> str:
    """Rows = formats, columns = platforms, cells = status · warm start · artifact size."""
    platforms: list[dict[str, Any]] = merged["platforms"]
    formats: dict[str, dict[str, Any]] = merged["formats"]
    lines = [
        f"### packmatrix: {_app_text(merged['app'])} on {len(platforms)} platform(s)",
        "",
        "| format | " + " | ".join(md_cell(item["label"]) for item in platforms) + " |",
        "|---|" + "---|" * len(platforms),
    ]
    for name, cells in formats.items():
        row = [f"**{name}**"] + [cell_text(cells.get(item["id"])) for item in platforms]
        lines.append("| " + " | ".join(md_cell(text) for text in row) + " |")
    lines += [
        "",
        "Each cell: status · warm start median · artifact size; — where the platform did not "
        "run the format.",
    ]
    reasons = [
        f"- **{name}** on {platform['label']}: {cell['status'].upper()}: {md_cell(cell['reason'])}"
        for name, cells in formats.items()
        for platform in platforms
        if (cell := cells.get(platform["id"]))
        and cell["status"] != Status.PASSED.value
        and cell["reason"]
    ]
    if reasons:
        lines += ["", "Not passed:", "", *reasons]
    lines += ["", "Platforms:", ""]
    for platform in platforms:
        facts = [platform.get("libc"), f"Python {platform.get('python')}"]
        run = platform["run"]
        lines.append(
            f"- {platform['label']}: {', '.join(str(fact) for fact in facts if fact)}; "
            f"run `{run.get('id')}` ({run.get('status')}) from `{platform['source']}`"
        )
    lines.append("")
    return "\n".join(lines)


def cell_text(cell: Mapping[str, Any] | None) -> str:
    """``"✅ PASSED · 0.17 s · 4.3 KB"``; only the status when there are no figures."""
    if cell is None:
        return "—"
    status = str(cell["status"])
    parts = [f"{STATUS_MARK.get(status, '')} {status.upper()}".strip()]
    figures = Figures.from_json(cell.get("figures") or {})
    if figures.startup_warm is not None:
        parts.append(f"{figures.startup_warm.median:.2f} s")
    if figures.artifact_bytes is not None:
        parts.append(human_bytes(figures.artifact_bytes))
    return " · ".join(parts)
