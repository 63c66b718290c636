"""The report's JSON Schema: shipped with the package, documents every field, catches mistakes."""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from packmatrix.core.appspec import AppSpec
from packmatrix.core.checks import Check
from packmatrix.core.context import Options
from packmatrix.errors import ReportError
from packmatrix.model import metrics
from packmatrix.model import schema as generated
from packmatrix.model.records import LEGACY_RSS_KEY, Figures, Portability
from packmatrix.model.results import SCHEMA_VERSION, Report, schema_major
from packmatrix.report import render as report
from packmatrix.run import pipeline
from tests.unit.real_reports import LINUX, SAMPLES, previous_major, sample
from tests.unit.real_reports import raw as raw_path

Doc = dict[str, Any]
"""A report's JSON, as ``matrix.json`` holds it."""


def raw(name: str) -> Doc:
    """A real report as stored (tests/fixtures/reports, written by a real run)."""
    return sample(name)


def typed(name: str) -> Report:
    """A real report read into the typed report."""
    return Report.from_json(raw(name))


def load(name: str) -> Doc:
    """A real report as packmatrix writes it today, read and written again."""
    return typed(name).to_json()


def linux() -> Doc:
    """The real report of every default format, docker included."""
    return Report.from_json(raw_path(LINUX)).to_json()


def problem(doc: Doc) -> str:
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
    def test_is_generated_from_the_model(self) -> None:
        """The shipped file is what the typed model generates, to the byte: a record's new field
        changes it, and ``nox -s schema`` writes it again."""
        shipped = resources.files("packmatrix").joinpath("schema/report.schema.json")
        assert shipped.read_text(encoding="utf-8") == generated.text()
        assert report.schema() == generated.report_schema()

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
        """The schema accepts the version the code writes, and any 2.x; no other major."""
        pattern = report.schema()["properties"]["schema_version"]["pattern"]
        validator = jsonschema.Draft202012Validator({"type": "string", "pattern": pattern})
        assert SCHEMA_VERSION == "2.3"
        assert validator.is_valid(SCHEMA_VERSION)
        assert validator.is_valid("2.12")
        assert not validator.is_valid("1.0")
        assert not validator.is_valid("1.12")
        assert not validator.is_valid("3.0")
        assert not validator.is_valid("2")

    def test_figures_are_the_metric_catalogue(self) -> None:
        """Every figure the schema declares is a metric of the catalogue, and the other way
        round: "startup" holds "cold" and "warm", every other figure is a key of its own. Beside
        them: ``memory_kind`` (what ``memory_bytes`` is) and older reports' ``rss_bytes``."""
        figures = report.schema()["$defs"]["Figures"]
        assert figures["additionalProperties"] is False
        declared = set()
        for key, sub in figures["properties"].items():
            if key == "startup":
                assert sub["additionalProperties"] is False
                assert set(sub["properties"]) == {"cold", "warm"}
                declared |= {f"startup.{part}" for part in sub["properties"]}
            else:
                declared.add(key)
        catalogue = {metric.key for metric in metrics.METRICS}
        assert declared - catalogue == {"memory_kind", LEGACY_RSS_KEY}
        assert catalogue - declared == set()

    def test_portability_facts_are_the_model(self) -> None:
        """Every portability fact the schema declares is a field of ``records.Portability``,
        and the other way round (the schema refuses any other fact)."""
        portability = report.schema()["$defs"]["Portability"]
        assert portability["additionalProperties"] is False
        fields = {item.name for item in dataclasses.fields(Portability)}
        assert set(portability["properties"]) == fields


class TestValidReports:
    @pytest.mark.parametrize("name", SAMPLES)
    def test_sample_reports_validate(self, name: str) -> None:
        """Real reports (venv, pex, PyInstaller, and a run with failed and skipped formats), as
        written by the run and as written again, are valid."""
        report.validate(raw(name))
        report.validate(load(name))

    @pytest.mark.parametrize("name", SAMPLES)
    def test_previous_major_is_refused(self, name: str) -> None:
        """A 1.x document is read by ``Report.from_json`` but is not a 2.x document."""
        doc = previous_major(raw(name))
        assert doc["schema_version"].startswith("1.")
        assert problem(doc).startswith(
            f"report does not match schema {SCHEMA_VERSION}: at schema_version: "
        )

    @pytest.mark.parametrize("name", SAMPLES)
    def test_json_round_trip(self, name: str) -> None:
        """Reading a 2.0 document and writing it again gives the same document; a 1.x one is
        written as 2.0 without what 2.0 dropped."""
        doc = typed(name)
        assert schema_major(doc.schema_version) == schema_major(SCHEMA_VERSION)
        current = {**raw(name), "schema_version": SCHEMA_VERSION}  # a 2.0 fixture, written as 2.x
        assert doc.to_json() == current
        old = Report.from_json(previous_major(raw(name)))
        assert old.schema_version.startswith("1.")
        written = old.to_json()
        assert written["schema_version"] == SCHEMA_VERSION
        assert written == current

    def test_older_memory_figure_is_read_as_memory(self) -> None:
        """A report written before ``memory_bytes`` (its figure under ``rss_bytes``) is valid;
        its figure is read as ``memory_bytes``, of no recorded kind, and written under the new
        name."""
        doc = load("venv-pex")
        figures = doc["formats"][0]["figures"]
        figures[LEGACY_RSS_KEY] = figures.pop("memory_bytes")
        figures.pop("memory_kind", None)  # an older report knew no kind
        report.validate(doc)
        (wheel, *_) = Report.from_json(doc).formats
        assert wheel.figures.memory_bytes is not None
        assert wheel.figures.memory_bytes.to_json() == figures[LEGACY_RSS_KEY]
        assert wheel.figures.memory_kind is None
        written = wheel.figures.to_json()
        assert LEGACY_RSS_KEY not in written
        assert "memory_kind" not in written

    def test_memory_kind_is_kept(self) -> None:
        """What the memory figure is travels with it through the JSON."""
        figures = Figures.from_json(
            {
                "memory_bytes": {"unit": "B", "median": 5.0},
                "memory_kind": "container memory (cgroup)",
            }
        )
        assert figures.memory_kind == "container memory (cgroup)"
        assert Figures.from_json(figures.to_json()) == figures

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
        assert doc.formats == []
        report.validate(doc.to_json())

    @pytest.mark.parametrize(
        "change",
        [
            pytest.param(lambda d: d["host"].update(kernel_config="x"), id="host-fact"),
            pytest.param(lambda d: d["run"]["options"].update(formats=["wheel"]), id="option"),
            pytest.param(lambda d: d["run"].update(workspace="/tmp/pm-x"), id="workspace"),
            pytest.param(lambda d: d.update(schema_version="2.3"), id="minor"),
            pytest.param(lambda d: d["formats"][0].update(health=None), id="health-null"),
        ],
    )
    def test_allowed_additions(self, change: Callable[[Doc], object]) -> None:
        """Host facts, run options, the kept workspace and newer minor versions are accepted."""
        doc = load("venv-pex")
        change(doc)
        report.validate(doc)

    def test_docker_entries(self) -> None:
        """A container format's Dockerfile, image facts and image figures are accepted."""
        doc = linux()
        entry = next(fmt for fmt in doc["formats"] if fmt["name"] == "docker")
        assert entry["dockerfile"].startswith("# Dockerfile for sample-app 1.0.0, generated by")
        assert {"tag", "id", "base"} <= set(entry["image"])
        assert entry["image"]["base"]["tag"] == "packmatrix/python:3.11-bookworm-slim"
        assert {
            "build_seconds_cached",
            "image_bytes",
            "image_compressed_bytes",
            "image_on_base_bytes",
            "image_on_base_compressed_bytes",
        } <= set(entry["figures"])
        report.validate(doc)

    def test_skipped_and_failed_without_figures(self) -> None:
        """A skipped or early-failed format needs no figures, only a reason."""
        doc = load("venv-pex")
        doc["formats"] = [
            {"name": "docker", "title": "docker", "status": "skipped", "reason": "no engine"},
            {"name": "pex", "title": "pex", "status": "failed", "reason": "build failed"},
        ]
        report.validate(doc)


def _drop(*path: str | int) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        node: Any = doc
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return change


def _set(value: Any, *path: str | int) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
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
            pytest.param(_set("1.0", "schema_version"), "schema_version", id="major-1"),
            pytest.param(_set("3.0", "schema_version"), "schema_version", id="major-3"),
            pytest.param(_set("done", "run", "status"), "run/status", id="run-status"),
            pytest.param(_set("ok", "formats", 0, "status"), "formats/0/status", id="status"),
            pytest.param(_set(None, "formats", 1, "title"), "formats/1/title", id="title-null"),
            pytest.param(
                _set(0, "formats", 0, "figures", "startup", "warm", "n"),
                "formats/0/figures/startup/warm/n",
                id="figure-n",
            ),
            pytest.param(
                _drop("formats", 2, "figures", "memory_bytes", "median"),
                "formats/2/figures/memory_bytes",
                id="figure-median",
            ),
            pytest.param(
                _set("fast", "formats", 0, "figures", "build_seconds"),
                "formats/0/figures/build_seconds",
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
    def test_mistakes_are_named(self, change: Callable[[Doc], None], where: str) -> None:
        """The error says where the document is wrong, in one line."""
        doc = load("venv-pex")
        change(doc)
        message = problem(doc)
        assert message.startswith(f"report does not match schema {SCHEMA_VERSION}: at ")
        assert f" at {where}" in message
        assert "\n" not in message
        assert len(message) < 300

    @pytest.mark.parametrize(
        ("change", "where"),
        [
            pytest.param(
                _set("x", "formats", 0, "portability", "arch_note"),
                "formats/0/portability",
                id="fact",
            ),
            pytest.param(
                _set(1.5, "formats", 0, "figures", "pull_seconds"),
                "formats/0/figures",
                id="new-number",
            ),
            pytest.param(
                _set(0.1, "formats", 0, "figures", "startup", "lukewarm"),
                "formats/0/figures/startup",
                id="startup-kind",
            ),
            pytest.param(_set({"any": [1]}, "formats", 0, "extra"), "formats/0", id="extra"),
            pytest.param(_set({"ci": "yes"}, "extra"), "(top level)", id="top-extra"),
        ],
    )
    def test_undeclared_additions_are_refused(
        self, change: Callable[[Doc], None], where: str
    ) -> None:
        """2.0 declares every figure and portability fact: an unknown figure, an unknown fact
        and a free-form ``extra`` object are refused, where they are."""
        doc = load("venv-pex")
        change(doc)
        assert f" at {where}: " in problem(doc)

    @pytest.mark.parametrize(
        ("key", "value"),
        [
            pytest.param("build_cached_seconds", "build_seconds", id="build_cached_seconds"),
            pytest.param("image_added_bytes", 123, id="image_added_bytes"),
        ],
    )
    def test_old_figure_spellings_are_refused(self, key: str, value: Any) -> None:
        """The two figure spellings 1.x accepted (and no packmatrix wrote) are gone in 2.0:
        the names are build_seconds_cached and image_on_base_bytes."""
        doc = linux()
        docker = next(fmt for fmt in doc["formats"] if fmt["name"] == "docker")
        figures = docker["figures"]
        figures[key] = figures[value] if isinstance(value, str) else value
        index = doc["formats"].index(docker)
        assert f" at formats/{index}/figures: " in problem(doc)

    def test_image_needs_its_base(self) -> None:
        """A container format's image is typed: tag, id and the base it was built on."""
        doc = linux()
        docker = next(fmt for fmt in doc["formats"] if fmt["name"] == "docker")
        docker["image"] = {"tag": "x:1", "id": "sha256:0"}
        index = doc["formats"].index(docker)
        assert f" at formats/{index}/image: " in problem(doc)

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
