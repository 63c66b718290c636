"""The report's JSON Schema: shipped with the package, documents every field, catches mistakes."""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from packmatrix import pipeline, report
from packmatrix.appspec import AppSpec, Check
from packmatrix.context import Options
from packmatrix.errors import ReportError
from packmatrix.report import Report

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "reports"
SAMPLES = sorted(path.stem for path in FIXTURES.glob("*.json"))


def load(name: str) -> Report:
    data: Report = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def problem(doc: Report) -> str:
    """The one-line message validate() raises for ``doc``."""
    with pytest.raises(ReportError) as caught:
        report.validate(doc)
    return caught.value.message


def subschemas(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every (path, schema) under a ``properties`` keyword, anywhere in the schema."""
    if isinstance(node, dict):
        for key, value in node.get("properties", {}).items():
            yield f"{where}/{key}", value
        for key, value in node.items():
            yield from subschemas(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from subschemas(value, f"{where}/{index}")


class TestSchemaDocument:
    def test_is_a_valid_draft_2020_12_schema(self) -> None:
        """The shipped file is itself a valid JSON Schema of draft 2020-12."""
        schema = report.schema()
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        jsonschema.Draft202012Validator.check_schema(schema)

    def test_every_field_is_described(self) -> None:
        """Each property says what it means (directly or through its definition)."""
        schema = report.schema()
        definitions = schema["$defs"]
        undocumented = []
        checked = 0
        for where, sub in subschemas(schema):
            if "/if/" in where or "/then/" in where:  # conditions restate fields
                continue
            target = sub
            if "$ref" in sub and "description" not in sub:
                target = definitions[sub["$ref"].removeprefix("#/$defs/")]
            checked += 1
            if not target.get("description"):
                undocumented.append(where)
        assert undocumented == []
        assert checked > 100

    def test_version_matches_the_code(self) -> None:
        """The schema accepts the version the code writes, and any 1.x."""
        pattern = report.schema()["properties"]["schema_version"]["pattern"]
        validator = jsonschema.Draft202012Validator({"type": "string", "pattern": pattern})
        assert validator.is_valid(report.SCHEMA_VERSION)
        assert validator.is_valid("1.12")
        assert not validator.is_valid("2.0")
        assert not validator.is_valid("1")


class TestValidReports:
    @pytest.mark.parametrize("name", SAMPLES)
    def test_sample_reports_validate(self, name: str) -> None:
        """Real reports (venv, pex, PyInstaller) and the mixed fixture are valid."""
        report.validate(load(name))

    def test_a_new_report_validates(self) -> None:
        """The document the pipeline starts with (running, no formats yet) is valid."""
        app = AppSpec(
            root=Path("/app"),
            name="demo",
            version="1.0",
            script="demo",
            package="demo",
            health="/health",
            checks=(Check(name="health", path="/health"),),
            build_requires=("setuptools",),
            requires_python=">=3.10",
        )
        doc = pipeline.new_report(app, Options(runs=3), time.time())
        report.validate(doc)

    @pytest.mark.parametrize(
        "change",
        [
            pytest.param(lambda d: d["formats"][0]["portability"].update(arch_note="x"), id="fact"),
            pytest.param(lambda d: d["formats"][0].update(extra={"any": [1]}), id="extra"),
            pytest.param(lambda d: d.update(extra={"ci": "yes"}), id="top-extra"),
            pytest.param(lambda d: d["host"].update(kernel_config="x"), id="host-fact"),
            pytest.param(lambda d: d["run"]["options"].update(formats=["wheel"]), id="option"),
            pytest.param(
                lambda d: d["formats"][0]["figures"].update(pull_seconds=1.5), id="new-number"
            ),
            pytest.param(lambda d: d.update(schema_version="1.3"), id="minor"),
            pytest.param(lambda d: d["formats"][0].update(health=None), id="health-null"),
        ],
    )
    def test_allowed_additions(self, change: Callable[[Report], object]) -> None:
        """Format-specific facts, free-form extras and newer minor versions are accepted."""
        doc = load("venv-pex")
        change(doc)
        report.validate(doc)

    def test_docker_entries(self) -> None:
        """A container format's Dockerfile, image facts and image figures are accepted."""
        doc = load("mixed")
        docker = next(fmt for fmt in doc["formats"] if fmt["name"] == "docker-bookworm")
        assert "dockerfile" in docker
        docker["figures"]["build_cached_seconds"] = docker["figures"]["build_seconds"]
        docker["figures"]["image_added_bytes"] = 123
        docker["image"] = {"tag": "x:1", "id": "sha256:0"}
        report.validate(doc)

    def test_skipped_and_failed_without_figures(self) -> None:
        """A skipped or early-failed format needs no figures, only a reason."""
        doc = load("venv-pex")
        doc["formats"] = [
            {"name": "docker", "title": "docker", "status": "skipped", "reason": "no engine"},
            {"name": "pex", "title": "pex", "status": "failed", "reason": "build failed"},
        ]
        report.validate(doc)


def _drop(*path: str | int) -> Callable[[Report], None]:
    def change(doc: Report) -> None:
        node: Any = doc
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return change


def _set(value: Any, *path: str | int) -> Callable[[Report], None]:
    def change(doc: Report) -> None:
        node: Any = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


class TestInvalidReports:
    @pytest.mark.parametrize(
        ("change", "where"),
        [
            pytest.param(_drop("schema_version"), "(top level)", id="no-version"),
            pytest.param(_set("2.0", "schema_version"), "schema_version", id="major-2"),
            pytest.param(_set("done", "run", "status"), "run/status", id="run-status"),
            pytest.param(_set("ok", "formats", 0, "status"), "formats/0/status", id="status"),
            pytest.param(_set(None, "formats", 1, "title"), "formats/1/title", id="title-null"),
            pytest.param(
                _set(0, "formats", 0, "figures", "startup", "warm", "n"),
                "formats/0/figures/startup/warm/n",
                id="figure-n",
            ),
            pytest.param(
                _drop("formats", 2, "figures", "rss_bytes", "median"),
                "formats/2/figures/rss_bytes",
                id="figure-median",
            ),
            pytest.param(
                _set("fast", "formats", 0, "figures", "pull_seconds"),
                "formats/0/figures/pull_seconds",
                id="figure-string",
            ),
            pytest.param(
                _set(-1, "formats", 0, "figures", "artifact_bytes"),
                "formats/0/figures/artifact_bytes",
                id="negative-size",
            ),
            pytest.param(_set("x", "formats", 0, "statuss"), "formats/0", id="typo-key"),
            pytest.param(_set("x", "colour"), "(top level)", id="unknown-top-key"),
            pytest.param(_set("abc", "lock", 0, "sha256"), "lock/0/sha256", id="sha256"),
            pytest.param(
                _set("2.14", "formats", 0, "portability", "glibc_floor", "version"),
                "formats/0/portability/glibc_floor/version",
                id="glibc-version",
            ),
            pytest.param(
                _set([], "formats", 0, "build", "commands", 0), "formats/0/build", id="argv"
            ),
            pytest.param(_set("3", "run", "options", "runs"), "run/options/runs", id="runs-str"),
        ],
    )
    def test_mistakes_are_named(self, change: Callable[[Report], None], where: str) -> None:
        """The error says where the document is wrong, in one line."""
        doc = load("venv-pex")
        change(doc)
        message = problem(doc)
        assert message.startswith(f"report does not match schema {report.SCHEMA_VERSION}: at ")
        assert f" at {where}" in message
        assert "\n" not in message
        assert len(message) < 300

    def test_failed_needs_a_reason(self) -> None:
        """A failed or skipped format must say why."""
        doc = load("venv-pex")
        doc["formats"][0].update(status="failed", reason=None)
        assert "formats/0/reason" in problem(doc)
        doc["formats"][0].update(status="skipped", reason="")
        assert "formats/0/reason" in problem(doc)

    def test_passed_needs_its_figures(self) -> None:
        """A passed format without startup figures is a contradiction."""
        doc = load("venv-pex")
        del doc["formats"][0]["figures"]["startup"]
        assert "formats/0/figures" in problem(doc)

    def test_passed_with_a_failing_check(self) -> None:
        """A passed format can't hold a failed smoke check."""
        doc = load("venv-pex")
        doc["formats"][3]["checks"][2]["ok"] = False
        assert "formats/3/checks/2/ok" in problem(doc)

    def test_not_an_object(self) -> None:
        """Anything but an object is refused with a readable message."""
        assert "(top level)" in problem([])  # type: ignore[arg-type]

    def test_validate_does_not_change_the_report(self) -> None:
        """Validation only reads."""
        doc = load("mixed")
        before = copy.deepcopy(doc)
        report.validate(doc)
        assert doc == before
