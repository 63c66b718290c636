"""The report's JSON Schema (draft 2020-12), generated from the typed model.

``report.schema.json`` in the package is this module's output, never edited by hand:
``nox -s schema`` (``python -m packmatrix.model.schema``) writes it, and a unit test fails when
the committed file differs from what the model generates. Field descriptions are the records'
attribute docstrings; constraints are their ``Annotated`` metadata (``serial``); a figure's
description is its entry in the metric catalogue.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Final

from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import CoreSchema, core_schema

from packmatrix.model.results import SCHEMA_VERSION, Report, schema_major
from packmatrix.model.stats import Stat
from packmatrix.serial import adapter

DRAFT: Final = "https://json-schema.org/draft/2020-12/schema"
FILE: Final = Path(__file__).resolve().parents[1] / "schema" / "report.schema.json"
"""The shipped schema (``packmatrix/schema/report.schema.json``)."""
DESCRIPTION: Final = (
    "One run of packmatrix: the app under test, the host, the tools, the exact dependency set, "
    "and one entry per packaging format with its outcome, smoke checks, figures and portability "
    "facts. Written as reports/matrix.json; matrix.md and matrix.html are rendered from it. Any "
    f"{schema_major(SCHEMA_VERSION)}.x document validates against this schema; a new major "
    "version is a breaking change. Generated from packmatrix's typed model (packmatrix.model)."
)


class _Generator(GenerateJsonSchema):
    """pydantic's generator, without the titles it makes up from field names ("Log Tail")."""

    def field_title_should_be_set(self, schema: CoreSchema | core_schema.DataclassField) -> bool:
        return False


def report_schema() -> dict[str, Any]:
    """The schema of ``matrix.json``, as the report is written (pydantic's serialization mode)."""
    body = adapter(Report).json_schema(
        mode="serialization", by_alias=True, schema_generator=_Generator
    )
    definitions = body.pop("$defs")
    stat = adapter(Stat).json_schema(mode="serialization", schema_generator=_Generator)
    definitions = {name: _hoisted(node, stat) for name, node in definitions.items()}
    definitions["Stat"] = stat
    body.pop("title", None)
    body.pop("description", None)
    tidied: dict[str, Any] = _tidy(
        {
            "$schema": DRAFT,
            "$id": f"urn:packmatrix:schema:report:{schema_major(SCHEMA_VERSION)}",
            "title": "packmatrix report",
            "description": DESCRIPTION,
            **body,
            "$defs": dict(sorted(definitions.items())),
        }
    )
    return tidied


def _hoisted(node: Any, stat: dict[str, Any]) -> Any:
    """``node`` with every inline ``Stat`` schema (the figures') made a ``$ref`` to its one
    definition, keeping the figure's own description."""
    if isinstance(node, list):
        return [_hoisted(item, stat) for item in node]
    if not isinstance(node, dict):
        return node
    shape = {key: value for key, value in stat.items() if key not in ("title", "description")}
    if all(node.get(key) == value for key, value in shape.items()):
        rest = {key: value for key, value in node.items() if key not in stat}
        return {"$ref": "#/$defs/Stat", **rest}
    return {key: _hoisted(value, stat) for key, value in node.items()}


def _tidy(node: Any) -> Any:
    """Descriptions as prose: a docstring's line breaks become spaces (paragraphs stay)."""
    if isinstance(node, list):
        return [_tidy(item) for item in node]
    if not isinstance(node, dict):
        return node
    tidied = {key: _tidy(value) for key, value in node.items()}
    if isinstance(tidied.get("description"), str):
        paragraphs = tidied["description"].split("\n\n")
        tidied["description"] = "\n\n".join(" ".join(part.split()) for part in paragraphs)
    return tidied


def text() -> str:
    """The schema file's text."""
    return json.dumps(report_schema(), indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    """Write the shipped schema file; with ``--check``, only say whether it is up to date."""
    current = FILE.read_text(encoding="utf-8") if FILE.exists() else ""
    if "--check" in sys.argv[1:]:
        if current != text():
            print(f"{FILE} is not what the model generates: run nox -s schema", file=sys.stderr)
            return 1
        return 0
    if current != text():
        FILE.write_text(text(), encoding="utf-8")
        print(f"wrote {FILE}")
    else:
        print(f"{FILE} is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
