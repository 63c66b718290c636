"""The report: one JSON document, written atomically; Markdown (and HTML) rendered from it."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from packmatrix.errors import ReportError
from packmatrix.stats import Figure

SCHEMA_VERSION = "1.0"
"""Major.minor: the major part changes on a breaking change; ``compare`` refuses another major."""

Report = dict[str, Any]


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a crash or a full disk never leaves half a file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise ReportError(f"can't write to {path.parent}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        raise ReportError(f"can't write {path}: {exc.strerror or exc}") from None


def check_writable(folder: Path) -> None:
    """Fail before any work when the reports folder can't be written."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise ReportError(
            f"reports folder {folder} is not writable: {exc.strerror or exc}"
        ) from None


def save(report: Report, folder: Path) -> list[Path]:
    """Render every file first, then replace them; the previous JSON is kept as *.previous.json.

    The JSON is the record: should a rendering fail, the JSON is still written and the error
    says so in one line.
    """
    rendered = {"matrix.json": json.dumps(report, indent=2, sort_keys=False) + "\n"}
    problems = []
    for name in ("matrix.md", "matrix.html"):
        try:
            rendered[name] = render(f"{name}.j2", report)
        except (jinja2.TemplateError, TypeError, ValueError, KeyError) as exc:
            problems.append(f"could not render {name}: {exc}")
    current = folder / "matrix.json"
    if current.exists():
        write_atomic(folder / "matrix.previous.json", current.read_text(encoding="utf-8"))
    written = []
    for name, text in rendered.items():
        write_atomic(folder / name, text)
        written.append(folder / name)
    if problems:
        raise ReportError(f"{'; '.join(problems)} ({current} was written)")
    return written


def load(path: Path) -> Report:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportError(f"no report at {path}") from None
    except (OSError, ValueError) as exc:
        raise ReportError(f"{path} is not a packmatrix report: {exc}") from None
    if not isinstance(data, dict) or "schema_version" not in data:
        raise ReportError(f"{path} is not a packmatrix report (no schema_version)")
    return data


def schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of the report document, shipped with the package."""
    text = resources.files("packmatrix").joinpath("schema/report.schema.json").read_text("utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def validate(report: Report) -> None:
    """Check ``report`` against the schema; raise ReportError naming the first problem."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(
        schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    error = jsonschema.exceptions.best_match(validator.iter_errors(report))
    if error is None:
        return
    where = "/".join(str(part) for part in error.absolute_path) or "(top level)"
    message = " ".join(error.message.split())
    if len(message) > 160:
        message = message[:157] + "..."
    raise ReportError(f"report does not match schema {SCHEMA_VERSION}: at {where}: {message}")


# -- rendering ----------------------------------------------------------------------------------
def render(template: str, report: Report) -> str:
    from packmatrix import charts

    env = jinja2.Environment(
        loader=jinja2.FunctionLoader(_template_source),
        autoescape=jinja2.select_autoescape(["html", "html.j2"]),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(FILTERS)
    env.globals.update(size_chart=charts.size_chart, startup_chart=charts.startup_chart)
    return env.get_template(template).render(report=report, rows=table_rows(report))


def _template_source(name: str) -> str:
    folder = resources.files("packmatrix").joinpath("templates")
    return folder.joinpath(name).read_text(encoding="utf-8")


def human_bytes(value: float | None) -> str:
    if not isinstance(value, int | float):
        return "—"
    size = float(value)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"  # pragma: no cover


def seconds(fig: Figure | None) -> str:
    if not fig:
        return "—"
    if fig["n"] == 1:
        return f"{fig['median']:.2f} s"
    return f"{fig['median']:.2f} s ({fig['min']:.2f}–{fig['max']:.2f})"


def megabytes(fig: Figure | None) -> str:
    if not fig:
        return "—"
    return f"{fig['median'] / 1e6:.1f} MB"


def command(argv: list[str]) -> str:
    import shlex

    return " ".join(shlex.quote(part) for part in argv)


def code(text: str) -> str:
    return f"`{text}`"


FILTERS: dict[str, Callable[..., str]] = {
    "code": code,
    "bytes": human_bytes,
    "seconds": seconds,
    "megabytes": megabytes,
    "command": command,
}


def table_rows(report: Report) -> list[dict[str, str]]:
    """The comparison table, one row per format: what the terminal, Markdown and HTML show."""
    from packmatrix.portability import summary

    rows = []
    for entry in report["formats"]:
        figures = entry.get("figures", {})
        startup = figures.get("startup", {})
        rows.append(
            {
                "format": entry["name"],
                "status": entry["status"].upper(),
                "artifact": human_bytes(figures.get("artifact_bytes")),
                "footprint": human_bytes(figures.get("footprint_bytes")),
                "build": seconds(figures.get("build_seconds")),
                "cold": seconds(startup.get("cold")),
                "warm": seconds(startup.get("warm")),
                "memory": megabytes(figures.get("rss_bytes")),
                "portability": summary(entry.get("portability", {})),
                "reason": entry.get("reason") or "",
            }
        )
    return rows


COLUMNS = [
    ("format", "format"),
    ("status", "status"),
    ("artifact", "artifact"),
    ("footprint", "installed"),
    ("build", "build"),
    ("cold", "cold start"),
    ("warm", "warm start median (min–max)"),
    ("memory", "RSS"),
    ("portability", "needs"),
]
